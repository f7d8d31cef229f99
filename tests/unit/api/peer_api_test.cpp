// The typed peer API's readers and writers (api/peer_api.hpp): every type reads back what it
// writes, and a wrong answer is refused with the pointer of what is wrong.
#include "api/peer_api.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace dr::api {
namespace {

using nlohmann::json;

std::vector<std::string> pointers(const model::Problems& problems) {
  std::vector<std::string> out;
  for (const auto& p : problems) out.push_back(p.pointer);
  return out;
}

TEST_CASE("peer API: each answer reads back what it writes", "[unit][api]") {
  const DrAppView dr{"app1", state::AppState::protected_, 3,
                     {{{"rbd", "a"}, storage::ImageRole::non_primary, true, 4},
                      {{"rbd", "b"}, std::nullopt, false, std::nullopt}}};
  auto dr_back = read_dr_app_view(to_json(dr));
  REQUIRE(dr_back);
  CHECK(to_json(*dr_back) == to_json(dr));
  CHECK(to_json(dr)["images"][1]["role"].is_null());

  const ProductionAppView prod{"app1", state::AppState::protected_, 3,
                               {{{"rbd", "a"}, storage::ImageRole::primary}}, 2};
  auto prod_back = read_production_app_view(to_json(prod));
  REQUIRE(prod_back);
  CHECK(prod_back->primary_images() == 1);
  CHECK(prod_back->vms_running == 2);

  const Demoted demoted{"app1", {{{"rbd", "a"}, {"uuid-a", 7}}}};
  auto demoted_back = read_demoted(to_json(demoted));
  REQUIRE(demoted_back);
  REQUIRE(demoted_back->find({"rbd", "a"}) != nullptr);
  CHECK(demoted_back->find({"rbd", "a"})->snapshot == storage::MirrorSnapshotRef{"uuid-a", 7});
  CHECK(demoted_back->find({"rbd", "b"}) == nullptr);

  const PoolPeers peers{"rbd", {{"site-a", "rx-tx"}}};
  auto peers_back = read_pool_peers(to_json(peers));
  REQUIRE(peers_back);
  CHECK(to_json(*peers_back) == to_json(peers));

  auto bootstrap = read_bootstrap_request(to_json(BootstrapRequest{"site-a", "secret"}));
  REQUIRE(bootstrap);
  CHECK(bootstrap->token == "secret");
}

TEST_CASE("peer API: a wrong answer names what is wrong", "[unit][api]") {
  auto demoted = read_demoted(json::parse(R"({"app": "app1", "images": [
      {"image": "no-slash", "demotion": {"mirrorUuid": ""}},
      {"image": "rbd/a"}]})"));
  REQUIRE_FALSE(demoted);
  CHECK(pointers(demoted.error()) == std::vector<std::string>{"/images/0/image",
                                                              "/images/0/demotion/mirrorUuid",
                                                              "/images/0/demotion", "/images/1"});

  auto view = read_production_app_view(
      json{{"app", "app1"}, {"state", "sideways"}, {"generation", -1}, {"images", json::object()}});
  REQUIRE_FALSE(view);
  CHECK(pointers(view.error()) ==
        std::vector<std::string>{"/state", "/generation", "/images", ""});

  auto dr = read_dr_app_view(json::parse(R"({"app": "app1", "state": "protected",
      "generation": 1, "images": [{"target": "rbd/a", "role": "boss", "synced": "yes"}]})"));
  REQUIRE_FALSE(dr);
  CHECK(pointers(dr.error()) ==
        std::vector<std::string>{"/images/0/role", "/images/0/synced"});
  CHECK_FALSE(read_dr_app_view(json::array()));
}

TEST_CASE("peer API: a registration carries its documents, problems prefixed", "[unit][api]") {
  auto no_mode = read_registration(json{{"description", json::object()}});
  REQUIRE_FALSE(no_mode);
  CHECK(pointers(no_mode.error()) == std::vector<std::string>{""});

  auto bad_first = read_registration(
      json{{"mode", "first"}, {"description", {{"apiVersion", "drpair/v1"}}}});
  REQUIRE_FALSE(bad_first);
  for (const auto& p : bad_first.error()) CHECK(p.pointer.rfind("/description", 0) == 0);

  auto second_without_first =
      read_registration(json{{"mode", "second"}, {"description", json::object()}});
  REQUIRE_FALSE(second_without_first);
  bool says_first = false;
  for (const auto& p : second_without_first.error()) {
    says_first = says_first || p.message.find("mode second needs 'first'") != std::string::npos;
  }
  CHECK(says_first);

  auto typo = read_registration(json{{"mode", "first"}, {"description", 1}, {"mdoe", "x"}});
  REQUIRE_FALSE(typo);
  CHECK(pointers(typo.error()) == std::vector<std::string>{"/mdoe"});
}

}  // namespace
}  // namespace dr::api
