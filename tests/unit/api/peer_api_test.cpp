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

  const ImageSnapshot taken{{"rbd", "a"}, {"uuid-a", 7}};
  auto taken_back = read_image_snapshot(to_json(taken));
  REQUIRE(taken_back);
  CHECK(taken_back->image == storage::ImageSpec{"rbd", "a"});
  CHECK(taken_back->snapshot == storage::MirrorSnapshotRef{"uuid-a", 7});

  using State = storage::MirrorSnapshotState;
  ImageEnd end{{"rbd", "a"}, {storage::ImageRole::non_primary, "uuid-a", {}}};
  end.side.snapshots.push_back({4, State::primary_demoted, true, "", 0, {}, {}});
  end.side.snapshots.push_back({5, State::non_primary, false, "uuid-b", 9, {}, {}});
  auto end_back = read_image_end(to_json(end));
  REQUIRE(end_back);
  CHECK(to_json(*end_back) == to_json(end));
  CHECK(end_back->side.snapshots[1].copies({"uuid-b", 9}));
  CHECK_FALSE(end_back->side.snapshots[1].complete);
  CHECK(end_back->side.role == storage::ImageRole::non_primary);

  const PoolPeers peers{"rbd", {{"site-a", "rx-tx"}}};
  auto peers_back = read_pool_peers(to_json(peers));
  REQUIRE(peers_back);
  CHECK(to_json(*peers_back) == to_json(peers));

  auto bootstrap = read_bootstrap_request(to_json(BootstrapRequest{"site-a", "secret", {}}));
  REQUIRE(bootstrap);
  CHECK(bootstrap->token == "secret");
  CHECK(bootstrap->namespaces.empty());
  CHECK_FALSE(to_json(*bootstrap).contains("namespaces"));
  auto with_ns =
      read_bootstrap_request(to_json(BootstrapRequest{"site-a", "secret", {"app1", "app2"}}));
  REQUIRE(with_ns);
  CHECK(with_ns->namespaces == std::vector<std::string>{"app1", "app2"});
}

TEST_CASE("peer API: an image is pool/image or pool/namespace/image", "[unit][api]") {
  auto pairs = read_pair_images(json::parse(R"({"images": ["rbd/a", "rbd/ns/b"]})"));
  REQUIRE(pairs);
  REQUIRE(pairs->images.size() == 2);
  CHECK(pairs->images[0] == storage::ImageSpec{"rbd", "a"});
  CHECK(pairs->images[1] == storage::ImageSpec{"rbd/ns", "b"});
  CHECK(to_json(*pairs) == json::parse(R"({"images": ["rbd/a", "rbd/ns/b"]})"));
  auto bad = read_pair_images(
      json::parse(R"({"images": ["rbd", "/a", "rbd/", "a/b/c/d", "a//b", "rbd/a@snap"]})"));
  REQUIRE_FALSE(bad);
  CHECK(pointers(bad.error()) == std::vector<std::string>{"/images/0", "/images/1", "/images/2",
                                                          "/images/3", "/images/4", "/images/5"});
}

TEST_CASE("peer API: a bootstrap request's namespaces are RBD names", "[unit][api]") {
  auto bad = read_bootstrap_request(json::parse(
      R"({"site": "site-a", "token": "t", "namespaces": ["ok", "a/b", "", 7, "x@y"]})"));
  REQUIRE_FALSE(bad);
  CHECK(pointers(bad.error()) == std::vector<std::string>{"/namespaces/1", "/namespaces/2",
                                                          "/namespaces/3", "/namespaces/4"});
  CHECK_FALSE(read_bootstrap_request(
      json::parse(R"({"site": "site-a", "token": "t", "namespaces": "app1"})")));
}

TEST_CASE("peer API: a wrong answer names what is wrong", "[unit][api]") {
  auto taken = read_image_snapshot(
      json::parse(R"({"image": "no-slash", "snapshot": {"mirrorUuid": ""}})"));
  REQUIRE_FALSE(taken);
  CHECK(pointers(taken.error()) ==
        std::vector<std::string>{"/image", "/snapshot/mirrorUuid", "/snapshot"});
  CHECK_FALSE(read_image_snapshot(json::parse(R"({"image": "rbd/a"})")));

  auto end = read_image_end(json::parse(R"({"image": "rbd/a", "role": "primary",
      "mirrorUuid": "u", "snapshots": [{"id": 0, "state": "sideways", "complete": "yes"},
      {"id": 3, "state": "non_primary", "complete": true}]})"));
  REQUIRE_FALSE(end);
  CHECK(pointers(end.error()) ==
        std::vector<std::string>{"/snapshots/0/id", "/snapshots/0/state",
                                 "/snapshots/0/complete", "/snapshots/1",
                                 "/snapshots/1"});  // primaryMirrorUuid and primarySnapId missing

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

TEST_CASE("peer API: a failback's start request carries what comes home, checked",
          "[unit][api]") {
  StartRequest request;
  request.added_vms.push_back({"app1-extra", "6c2f1d2e-0000-4000-8000-000000000099", 2, 512, 4});
  request.added_vms.push_back({"app1-tool", "6c2f1d2e-0000-4000-8000-000000000098", 1, 64, {}});
  request.added_disks.push_back({"app1-extra", {"rbd", "app1-extra-root"}, "vda", "virtio"});
  request.added_nics.push_back(
      {"app1-extra", "52:54:00:99:00:02", "vswitch0.app1-db", "e1000", "192.168.30.41"});
  request.added_nics.push_back(
      {"app1-extra", "52:54:00:99:00:03", "vswitch0.app1-web", "virtio", std::nullopt});
  auto back = read_start_request(to_json(request));
  REQUIRE(back);
  CHECK(back->added_vms == request.added_vms);
  CHECK(back->added_disks == request.added_disks);
  CHECK(back->added_nics == request.added_nics);
  CHECK_FALSE(to_json(request)["addedVms"][1].contains("bootOrder"));
  CHECK_FALSE(to_json(request)["addedNics"][1].contains("ip"));

  auto none = read_start_request(json());  // no body: nothing added
  REQUIRE(none);
  CHECK(none->empty());
  // A MAC in capitals is the same MAC; defaults fill in model and bus.
  auto upper = read_start_request(json::parse(R"({"addedNics": [{"vm": "a", "mac":
      "52:54:00:AA:00:01", "network": "n"}]})"));
  REQUIRE(upper);
  CHECK(upper->added_nics[0].mac == "52:54:00:aa:00:01");
  CHECK(upper->added_nics[0].model == "virtio");

  auto wrong = read_start_request(json::parse(R"({"addedVms": [{"name": "a", "vcpus": 0,
      "memoryMiB": "lots", "bootOrder": -1}], "addedNics": [{"vm": "a", "mac": "01:00:5e:00:00:01",
      "network": "n", "colour": "red", "ip": "10.0.0.256"}], "addedDisks": [{"vm": "a", "image": "noslash",
      "target": "vdc"}], "extra": 1})"));
  REQUIRE_FALSE(wrong);
  CHECK(pointers(wrong.error()) ==
        std::vector<std::string>{"/extra", "/addedVms/0", "/addedVms/0/vcpus",
                                 "/addedVms/0/memoryMiB", "/addedVms/0/bootOrder",
                                 "/addedDisks/0/image", "/addedNics/0/colour", "/addedNics/0/mac",
                                 "/addedNics/0/ip"});
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
