// The production agent's handlers, through its real routes over mutual TLS (tests/support/
// in_process_agent.hpp: SQLite state, the libvirt test driver with APP1 as site-a
// (tests/fixtures/libvirt/site-a.xml), one Ceph pool and no other Ceph call, the peer site-b
// unreachable). Each case checks the status, the error's code, message and problem pointers, and
// what the agent stored: the apps found in libvirt, protect's checks and its job up to the first
// Ceph call, unprotect and snapshot refusals, and who may call the peer routes.
// The Ceph and peer side of these flows runs against the real Ceph pair in the e2e tier.

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "agent_test_support.hpp"
#include "service/service.hpp"
#include "support/in_process_agent.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"
#include "support/wait_until.hpp"
#include "workflow/app_records.hpp"

namespace dr::testing {
namespace {

using nlohmann::json;
using transport::Method;

class Site {
 public:
  Site() {
    InProcessAgentOptions options;
    options.role = config::AgentRole::production;
    options.pki_dir = TestPki::get().file("");
    options.work_dir = work_.path();
    options.libvirt_uri = "test://" + std::string(DR_FIXTURES_DIR) + "/libvirt/site-a.xml";
    options.site_config_file = std::string(DR_FIXTURES_DIR) + "/libvirt/site-a.json";
    agent_.emplace(options);
    peer_ = *transport::BeastPeerClient::create(agent_->client("site-b/agent"));
    operator_ = *transport::BeastPeerClient::create(agent_->client("operator/ops"));
  }

  service::Runtime& runtime() { return agent_->runtime(); }
  // APP1 in the store, as a protect job would have left it.
  void store_app1(state::AppState state, std::int64_t generation = 0) {
    state::AppRecord app;
    app.id = "app1";
    app.role = state::AppRole::protected_source;
    app.state = state;
    app.generation = generation;
    app.peer_site = "site-b";
    REQUIRE(runtime().store->upsert_app(app));
  }
  // How many domains of the site run.
  int running() {
    auto domains = runtime().hypervisor->list_domains();
    REQUIRE(domains);
    int n = 0;
    for (const auto& d : *domains) n += d.state == virt::DomainState::running;
    return n;
  }
  Answer as_peer(Method m, const std::string& target, const std::optional<json>& body = {}) {
    return call(*peer_, m, target, body);
  }
  Answer as_operator(Method m, const std::string& target, const std::optional<json>& body = {}) {
    return call(*operator_, m, target, body);
  }
  json finished_job(std::int64_t id) { return testing::finished_job(*operator_, id); }

 private:
  TempDir work_;
  std::optional<InProcessAgent> agent_;
  std::unique_ptr<transport::BeastPeerClient> peer_, operator_;
};

TEST_CASE("the apps libvirt holds are listed before they are protected", "[production][apps]") {
  Site site;
  const auto a = site.as_operator(Method::get, "/v1/apps");
  REQUIRE(a.status == 200);
  REQUIRE(a.body["apps"].size() == 1);
  const auto& app1 = a.body["apps"][0];
  CHECK(app1["id"] == "app1");
  CHECK(app1["name"] == "APP1");
  CHECK(app1["state"] == "unprotected");
  CHECK(app1["vms"] == 4);
  CHECK(app1["peerSite"] == "site-b");
  // Listed, but not known to the store yet.
  CHECK(site.as_operator(Method::get, "/v1/apps/app1").status == 404);
}

TEST_CASE("protect refuses what it cannot protect, and starts nothing", "[production][protect]") {
  Site site;
  auto protect = [&](const std::string& app, const json& body) {
    return site.as_operator(Method::post, "/v1/apps/" + app + "/protection", body);
  };
  SECTION("a mode that is neither first nor second") {
    const auto a = protect("app1", json{{"mode", "third"}});
    CHECK(a.status == 400);
    CHECK(a.pointers() == std::vector<std::string>{"/mode"});
  }
  SECTION("a mode that is not a string") {
    CHECK(protect("app1", json{{"mode", 2}}).pointers() == std::vector<std::string>{"/mode"});
  }
  SECTION("a body that is not an object") {
    CHECK(protect("app1", json::array()).status == 400);
  }
  SECTION("an app libvirt does not hold") {
    const auto a = protect("nope", json{{"mode", "first"}});
    CHECK(a.status == 404);
    CHECK(a.message.find("no libvirt domain at site-a belongs to app 'nope'") != std::string::npos);
  }
  SECTION("an app that runs at the DR site") {
    site.store_app1(state::AppState::failed_over);
    const auto a = protect("app1", json{{"mode", "first"}});
    CHECK(a.status == 409);
    CHECK(a.message.find("it runs at the DR site") != std::string::npos);
    CHECK(a.message.find("drpair reprotect") != std::string::npos);
  }
  const auto jobs = site.as_operator(Method::get, "/v1/jobs?app=app1");
  REQUIRE(jobs.status == 200);
  CHECK(jobs.body["jobs"].empty());
}

TEST_CASE("protect captures the app and stops at the first Ceph call here", "[production][protect]") {
  Site site;
  const auto a = site.as_operator(Method::post, "/v1/apps/app1/protection", json{{"mode", "first"}});
  REQUIRE(a.status == 202);
  CHECK(a.body["created"] == true);
  CHECK(a.body["job"]["type"] == "protect");
  const auto job = site.finished_job(a.body["job"]["id"].get<std::int64_t>());
  CHECK(job["state"] == "failed");
  REQUIRE(job["steps"].size() == 2);
  CHECK(job["steps"][0]["name"] == "capture");
  CHECK(job["steps"][0]["state"] == "done");
  CHECK(job["steps"][1]["name"] == "peer-pool:rbd");
  CHECK(job["error"]["message"].get<std::string>().find("OnePoolStorage::set_site_name") !=
        std::string::npos);
  // What capture read from libvirt is stored: APP1's first description, as the fixture has it.
  const auto first = site.as_operator(Method::get, "/v1/apps/app1/descriptions/first/latest");
  REQUIRE(first.status == 200);
  CHECK(first.body["vms"].size() == 4);
  CHECK(first.body["app"]["generation"] == 3);
  const auto detail = site.as_operator(Method::get, "/v1/apps/app1");
  REQUIRE(detail.status == 200);
  CHECK(detail.body["state"] == "failed");
  CHECK(detail.body["lastError"]["message"] == job["error"]["message"]);
}

TEST_CASE("unprotect and snapshot need a protected app", "[production][protect]") {
  Site site;
  const auto unknown = site.as_operator(Method::delete_, "/v1/apps/nope/protection");
  CHECK(unknown.status == 404);
  CHECK(unknown.message.find("not protected") != std::string::npos);
  CHECK(site.as_operator(Method::post, "/v1/apps/nope/snapshots", json::object()).status == 404);
  site.store_app1(state::AppState::unprotected);
  const auto snapshot = site.as_operator(Method::post, "/v1/apps/app1/snapshots", json::object());
  CHECK(snapshot.status == 409);
  CHECK(snapshot.message.find("protect it first") != std::string::npos);
}

TEST_CASE("the peer routes answer the DR site only", "[production][peer]") {
  Site site;
  const auto running_before = site.running();
  CHECK(site.as_operator(Method::get, "/v1/peer/apps/app1").status == 403);
  CHECK(site.as_operator(Method::post, "/v1/peer/apps/app1/stop").status == 403);
  CHECK(site.as_operator(Method::post, "/v1/peer/apps/app1/images/rbd/app1-web1-root/demote")
            .status == 403);
  CHECK(site.as_peer(Method::get, "/v1/apps").status == 403);
  CHECK(site.as_peer(Method::get, "/v1/peer/apps/app1").status == 404);
  CHECK(site.as_peer(Method::post, "/v1/peer/apps/app1/stop").status == 404);
  CHECK(site.as_peer(Method::post, "/v1/peer/apps/app1/release").status == 404);
  CHECK(site.as_peer(Method::get, "/v1/peer/apps/app1/images/rbd/app1-web1-root").status == 404);
  CHECK(site.running() == running_before);  // the refused calls stopped no VM
}

TEST_CASE("the hand-over reaches only the app's images, and only once the app is stopped",
          "[production][peer]") {
  Site site;
  site.store_app1(state::AppState::protected_, 1);
  state::MirrorPairRecord pair;
  pair.source = {"rbd", "app1-web1-root"};
  pair.target = pair.source;
  REQUIRE(site.runtime().store->replace_mirror_pairs("app1", {pair}));
  const std::string image = "/v1/peer/apps/app1/images/rbd/app1-web1-root";

  // Another image, even one of this site's pools, is not the peer's to see or change.
  const auto other = site.as_peer(Method::post, "/v1/peer/apps/app1/images/rbd/other/demote");
  CHECK(other.status == 404);
  CHECK(other.message.find("not one of app 'app1''s images") != std::string::npos);
  CHECK(site.as_peer(Method::get, "/v1/peer/apps/app1/images/rbd/other").status == 404);
  // A protected app's images change roles only after it is stopped.
  for (const char* action : {"/snapshot", "/demote", "/promote"}) {
    const auto refused = site.as_peer(Method::post, image + action);
    INFO(action);
    CHECK(refused.status == 409);
    CHECK(refused.code == "failed_precondition");
    CHECK(refused.message.find("only after it is stopped") != std::string::npos);
  }
  // Stop: the VMs and the app's state (the images' roles are the workflow sweep's and the e2e
  // tier's to check: this in-process site's storage holds no image).
  REQUIRE(site.runtime().store->replace_mirror_pairs("app1", {}));
  const int running_before = site.running();  // APP1's 4 VMs and one of no app
  const auto stopped = site.as_peer(Method::post, "/v1/peer/apps/app1/stop");
  REQUIRE(stopped.status == 200);
  CHECK(stopped.body["state"] == "failing_over");
  CHECK(stopped.body["vmsRunning"] == 0);
  CHECK(site.running() == running_before - 4);
  auto app = site.runtime().store->get_app("app1");
  REQUIRE(app);
  CHECK(app->state == state::AppState::failing_over);
  // Stopping again is the same answer.
  CHECK(site.as_peer(Method::post, "/v1/peer/apps/app1/stop").body == stopped.body);
}

TEST_CASE("reprotect and failback at the production site: only a fenced app, in order",
          "[production][peer]") {
  Site site;
  CHECK(site.as_operator(Method::post, "/v1/peer/apps/app1/reverse").status == 403);
  CHECK(site.as_operator(Method::post, "/v1/peer/apps/app1/start").status == 403);
  CHECK(site.as_operator(Method::post, "/v1/peer/apps/app1/images/rbd/app1-web1-root/resync")
            .status == 403);
  site.store_app1(state::AppState::protected_, 1);
  state::MirrorPairRecord pair;
  pair.source = {"rbd", "app1-web1-root"};
  pair.target = pair.source;
  REQUIRE(site.runtime().store->replace_mirror_pairs("app1", {pair}));
  // A protected app is not resynced (its writes would be lost) nor made a replica.
  const auto resync =
      site.as_peer(Method::post, "/v1/peer/apps/app1/images/rbd/app1-web1-root/resync");
  CHECK(resync.status == 409);
  CHECK(resync.message.find("app 'app1' is protected at site-a") != std::string::npos);
  CHECK(site.as_peer(Method::post, "/v1/peer/apps/app1/images/rbd/other/resync").status == 404);
  const auto reverse = site.as_peer(Method::post, "/v1/peer/apps/app1/reverse");
  CHECK(reverse.status == 409);
  CHECK(reverse.message.find("needs it failed_over or protected_reverse") != std::string::npos);

  // Failed over, but with its VMs still running here: not the replica yet.
  REQUIRE(site.runtime().store->replace_mirror_pairs("app1", {}));
  for (auto s : {state::AppState::failing_over, state::AppState::failed_over}) {
    REQUIRE(workflow::set_app_state(*site.runtime().store, "app1", s));
  }
  const auto running = site.as_peer(Method::post, "/v1/peer/apps/app1/reverse");
  CHECK(running.status == 409);
  CHECK(running.message.find("4 running VM(s)") != std::string::npos);
  CHECK(site.as_peer(Method::post, "/v1/peer/apps/app1/start").status == 409);

  // Stopped: the replica; then started again by a failback, in boot order.
  const int before = site.running();
  REQUIRE(site.as_peer(Method::post, "/v1/peer/apps/app1/stop").status == 200);
  const auto reversed = site.as_peer(Method::post, "/v1/peer/apps/app1/reverse");
  REQUIRE(reversed.status == 200);
  CHECK(reversed.body["state"] == "protected_reverse");
  CHECK(site.as_peer(Method::post, "/v1/peer/apps/app1/reverse").body == reversed.body);
  const auto started = site.as_peer(Method::post, "/v1/peer/apps/app1/start");
  REQUIRE(started.status == 200);
  CHECK(started.body["state"] == "protected");
  CHECK(started.body["vmsRunning"] == 4);
  CHECK(site.running() == before);
}

TEST_CASE("disks added at the DR site: pairs and start read strict bodies, in the right state",
          "[production][peer]") {
  Site site;
  CHECK(site.as_operator(Method::post, "/v1/peer/apps/app1/pairs", json{{"images", json::array()}})
            .status == 403);
  site.store_app1(state::AppState::protected_, 1);
  const auto bad = site.as_peer(Method::post, "/v1/peer/apps/app1/pairs",
                                json{{"images", {"rbd/ok", "nopool", 7}}});
  CHECK(bad.status == 400);
  CHECK(bad.pointers() == std::vector<std::string>{"/images/1", "/images/2"});
  CHECK(site.as_peer(Method::post, "/v1/peer/apps/app1/pairs", json{{"imagez", json::array()}})
            .status == 400);
  CHECK(site.as_peer(Method::post, "/v1/peer/apps/app1/pairs").status == 400);  // no body
  const auto wrong_state = site.as_peer(Method::post, "/v1/peer/apps/app1/pairs",
                                        json{{"images", {"rbd/app1-app1-extra"}}});
  CHECK(wrong_state.status == 409);
  CHECK(wrong_state.message.find("needs it failed_over or protected_reverse") != std::string::npos);
  const auto start = site.as_peer(Method::post, "/v1/peer/apps/app1/start",
                                  json{{"addedDisks", {{{"vm", "app1-app1"}, {"bus", 1}}}}});
  CHECK(start.status == 400);
  // A missing member is named at its object (its message names the key).
  CHECK(start.pointers() ==
        std::vector<std::string>{"/addedDisks/0", "/addedDisks/0", "/addedDisks/0/bus"});
  CHECK(start.message.find("image") != std::string::npos);
  CHECK(start.message.find("target") != std::string::npos);

  // Failed over: an image of this site's own (primary here) is not a disk added there. This
  // in-process site's storage holds no image, so the one asked for is "not copied here yet".
  REQUIRE(workflow::set_app_state(*site.runtime().store, "app1", state::AppState::failing_over));
  REQUIRE(workflow::set_app_state(*site.runtime().store, "app1", state::AppState::failed_over));
  auto other = site.runtime().store->get_app("app1");
  REQUIRE(other);
  state::AppRecord app2 = *other;
  app2.id = "app2";
  app2.version = 0;
  REQUIRE(site.runtime().store->upsert_app(app2));
  state::MirrorPairRecord theirs;
  theirs.source = {"rbd", "app2-root"};
  theirs.target = theirs.source;
  REQUIRE(site.runtime().store->replace_mirror_pairs("app2", {theirs}));
  const auto taken = site.as_peer(Method::post, "/v1/peer/apps/app1/pairs",
                                  json{{"images", {"rbd/app2-root"}}});
  CHECK(taken.status == 409);
  CHECK(taken.message.find("is one of app 'app2''s images at site-a") != std::string::npos);
}

TEST_CASE("a site that has not heard from its DR agent says it takes no snapshot yet",
          "[production][fence]") {
  Site site;  // its loops do not run here: the DR agent has not been asked
  site.store_app1(state::AppState::protected_, 1);
  const auto detail = site.as_operator(Method::get, "/v1/apps/app1");
  REQUIRE(detail.status == 200);
  INFO(detail.body.dump());
  CHECK(detail.body["drCheck"]["confirmed"] == false);
  CHECK(detail.body["drCheck"]["checkedAt"].is_null());
  CHECK(detail.body["drCheck"]["detail"] ==
        "not asked yet: no mirror snapshot or capture until site-b has answered");
}

TEST_CASE("the peer's view of a known app counts its running VMs", "[production][peer]") {
  Site site;
  site.store_app1(state::AppState::protected_, 3);
  const auto view = site.as_peer(Method::get, "/v1/peer/apps/app1");
  REQUIRE(view.status == 200);
  CHECK(view.body["state"] == "protected");
  CHECK(view.body["generation"] == 3);
  CHECK(view.body["images"].empty());
  CHECK(view.body["vmsRunning"] == 4);  // the test driver runs the domains of its site file
}

}  // namespace
}  // namespace dr::testing
