// The DR agent's handlers, through its real routes over mutual TLS (tests/support/
// in_process_agent.hpp: SQLite state, the libvirt test driver as site-b, one Ceph pool and no
// other Ceph call, the peer site-a unreachable). Each case checks the status, the error body's
// code and problem pointers, and what the agent stored: registration in both modes and each way it
// is refused, who may call which route, the inventory, bootstrap refusals, failover requests
// (operator, signed webhook, Alertmanager) with their idempotency and state rules, unregistering.
// The Ceph side of these flows runs against the real Ceph pair in the e2e tier.

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "service/service.hpp"
#include "agent_test_support.hpp"
#include "support/in_process_agent.hpp"
#include "support/temp_dir.hpp"
#include "transport/tls_config.hpp"
#include "support/test_pki.hpp"
#include "support/wait_until.hpp"
#include "webhook/webhook.hpp"
#include "workflow/app_records.hpp"

namespace dr::testing {
namespace {

using nlohmann::json;
using transport::Method;

constexpr const char* kSecret = "webhook-secret-for-tests";
constexpr const char* kAlertmanagerToken = "alertmanager-token-for-tests";

class Site {
 public:
  explicit Site(bool with_webhooks = true, bool allow_force = false) {
    InProcessAgentOptions options;
    options.pki_dir = TestPki::get().file("");
    options.work_dir = work_.path();
    if (with_webhooks) {
      config::WebhookConfig hooks;
      hooks.secret = kSecret;
      hooks.allow_force = allow_force;
      config::AlertmanagerConfig am;
      am.token_sha256 = transport::sha256_hex(kAlertmanagerToken);
      hooks.alertmanager = am;
      options.webhooks = hooks;
    }
    agent_.emplace(options);
    peer_ = *transport::BeastPeerClient::create(agent_->client("site-a/agent"));
    operator_ = *transport::BeastPeerClient::create(agent_->client("operator/ops"));
  }

  service::Runtime& runtime() { return agent_->runtime(); }

  Answer as_peer(Method m, const std::string& target, const std::optional<json>& body = {}) {
    return call(*peer_, m, target, body);
  }
  Answer as_operator(Method m, const std::string& target, const std::optional<json>& body = {}) {
    return call(*operator_, m, target, body);
  }
  // As Alertmanager: an operator certificate (the dashboard's, in a real deployment) and the
  // bearer token.
  Answer alertmanager(const json& payload, const std::string& token = kAlertmanagerToken) {
    auto options = agent_->client("operator/ops");
    options.bearer_token = token;
    auto client = transport::BeastPeerClient::create(options);
    REQUIRE(client);
    return call(**client, Method::post, "/v1/hooks/alertmanager", payload);
  }
  // A client presenting `who`'s certificate, with `token` as its bearer token if not empty.
  std::unique_ptr<transport::BeastPeerClient> client_as(const std::string& who,
                                                        const std::string& token = "") {
    auto options = agent_->client(who);
    if (!token.empty()) options.bearer_token = token;
    auto client = transport::BeastPeerClient::create(options);
    REQUIRE(client);
    return std::move(*client);
  }
  Answer hook(const std::string& raw, std::int64_t t, const std::string& secret = kSecret) {
    transport::Headers headers;
    headers.set(std::string(webhook::kSignatureHeader), webhook::sign(raw, secret, t));
    return send(*operator_, Method::post, "/v1/hooks/failover", raw, std::move(headers));
  }

  // APP1 registered in mode first (generation 3, state protecting).
  void register_app1() {
    const auto a =
        as_peer(Method::put, "/v1/peer/apps/app1",
                json{{"mode", "first"}, {"description", fixture_description("app1.first.json")}});
    REQUIRE(a.status == 200);
  }
  void set_state(state::AppState to) {
    REQUIRE(workflow::update_app(*runtime().store, "app1",
                                [to](state::AppRecord& app) { app.state = to; }));
  }
  json finished_job(std::int64_t id) { return testing::finished_job(*operator_, id); }
  transport::PeerClient* operator_client() { return operator_.get(); }
  transport::PeerClient* peer_client() { return peer_.get(); }

 private:
  TempDir work_;
  std::optional<InProcessAgent> agent_;
  std::unique_ptr<transport::BeastPeerClient> peer_, operator_;
};

json alert(const std::string& status, const std::string& app) {
  return {{"version", "4"},
          {"status", status},
          {"alerts", json::array({{{"status", status},
                                   {"labels", {{"alertname", "SiteDown"}, {"drpair_app", app}}},
                                   {"startsAt", "2026-12-06T10:00:00Z"},
                                   {"fingerprint", "f-" + app}}})}};
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST_CASE("mode first: the DR agent maps, stores and serves the app", "[dr][register]") {
  Site site;
  const auto a = site.as_peer(Method::put, "/v1/peer/apps/app1",
                              json{{"mode", "first"}, {"description", fixture_description("app1.first.json")}});
  REQUIRE(a.status == 200);
  CHECK(a.body["state"] == "protecting");
  CHECK(a.body["generation"] == 3);
  CHECK(a.body["second"]["vms"].size() == 4);
  CHECK(a.body["second"]["replication"].size() == 5);

  const auto detail = site.as_operator(Method::get, "/v1/apps/app1");
  REQUIRE(detail.status == 200);
  CHECK(detail.body["state"] == "protecting");
  CHECK(detail.body["name"] == "APP1");
  CHECK(detail.body["images"].size() == 5);
  CHECK(detail.body["peer"]["site"] == "site-a");
  const auto second = site.as_operator(Method::get, "/v1/apps/app1/descriptions/second/latest");
  REQUIRE(second.status == 200);
  CHECK(second.body == a.body["second"]);

  // The same generation again changes nothing; the peer sees the registration.
  REQUIRE(site.as_peer(Method::put, "/v1/peer/apps/app1",
                       json{{"mode", "first"}, {"description", fixture_description("app1.first.json")}})
              .status == 200);
  const auto view = site.as_peer(Method::get, "/v1/peer/apps/app1");
  REQUIRE(view.status == 200);
  CHECK(view.body["generation"] == 3);
}

TEST_CASE("registration is refused with every problem and stores nothing", "[dr][register]") {
  Site site;
  const auto first = fixture_description("app1.first.json");
  auto put = [&](const std::string& app, const json& body) {
    return site.as_peer(Method::put, "/v1/peer/apps/" + app, body);
  };

  SECTION("no mode") {
    const auto a = put("app1", json{{"description", first}});
    CHECK(a.status == 400);
    CHECK(a.pointers() == std::vector<std::string>{""});  // a missing field: at its object
    CHECK_THAT(a.message, Catch::Contains("missing required field 'mode'"));
  }
  SECTION("not an object") {
    CHECK(put("app1", json::array()).status == 400);
  }
  SECTION("no description") {
    CHECK(put("app1", json{{"mode", "first"}}).status == 400);
  }
  SECTION("an unreadable description: pointers under /description") {
    auto bad = first;
    bad["vms"][0]["spec"]["vcpus"] = "two";
    const auto a = put("app1", json{{"mode", "first"}, {"description", bad}});
    CHECK(a.status == 400);
    REQUIRE_FALSE(a.pointers().empty());
    CHECK(a.pointers()[0].rfind("/description/vms/0", 0) == 0);
  }
  SECTION("the description of another app, from another site") {
    auto other = first;
    other["app"]["site"] = "site-c";
    const auto a = put("app2", json{{"mode", "first"}, {"description", other}});
    CHECK(a.status == 400);
    CHECK(a.pointers() ==
          std::vector<std::string>{"/description/app/id", "/description/app/site"});
  }
  SECTION("mode second without the first description") {
    const auto mapped = put("app1", json{{"mode", "first"}, {"description", first}});
    REQUIRE(mapped.status == 200);
    REQUIRE(site.as_peer(Method::delete_, "/v1/peer/apps/app1").status == 204);
    const auto a = put("app1", json{{"mode", "second"}, {"description", mapped.body["second"]}});
    CHECK(a.status == 400);
    CHECK(a.message.find("'first'") != std::string::npos);
  }
  SECTION("mode second: a second description that does not hold at site-b") {
    const auto mapped = put("app1", json{{"mode", "first"}, {"description", first}});
    REQUIRE(mapped.status == 200);
    REQUIRE(site.as_peer(Method::delete_, "/v1/peer/apps/app1").status == 204);
    auto second = mapped.body["second"];
    second["networks"][0]["switch"] = "no-such-switch";
    second["replication"][0]["target"]["image"] = "renamed";
    const auto a = put("app1", json{{"mode", "second"}, {"description", second}, {"first", first}});
    CHECK(a.status == 400);
    CHECK(a.pointers().size() >= 2);
  }
  CHECK(site.as_operator(Method::get, "/v1/apps/app1").status == 404);
  CHECK(site.as_operator(Method::get, "/v1/apps/app2").status == 404);
}

TEST_CASE("a failed-over app cannot be re-registered or unregistered", "[dr][register]") {
  Site site;
  site.register_app1();
  site.set_state(state::AppState::failing_over);
  site.set_state(state::AppState::failed_over);
  const auto again = site.as_peer(
      Method::put, "/v1/peer/apps/app1",
      json{{"mode", "first"}, {"description", fixture_description("app1.first.json")}});
  CHECK(again.status == 409);
  CHECK(again.code == "failed_precondition");
  CHECK(site.as_peer(Method::delete_, "/v1/peer/apps/app1").status == 409);
  CHECK(site.as_operator(Method::get, "/v1/apps/app1").body["state"] == "failed_over");
}

TEST_CASE("unregister forgets the app", "[dr][register]") {
  Site site;
  site.register_app1();
  CHECK(site.as_peer(Method::delete_, "/v1/peer/apps/app1").status == 204);
  CHECK(site.as_operator(Method::get, "/v1/apps/app1").status == 404);
  CHECK(site.as_peer(Method::delete_, "/v1/peer/apps/app1").status == 404);
}

TEST_CASE("peer routes take only the peer, operator routes only operators", "[dr][auth]") {
  Site site;
  CHECK(site.as_operator(Method::get, "/v1/peer/inventory").status == 403);
  CHECK(site.as_operator(Method::put, "/v1/peer/apps/app1", json::object()).status == 403);
  CHECK(site.as_peer(Method::get, "/v1/apps").status == 403);
  CHECK(site.as_peer(Method::post, "/v1/apps/app1/failover", json{{"type", "disaster"}}).status ==
        403);
}

TEST_CASE("the inventory is libvirt's site with the Ceph cluster's pools", "[dr][inventory]") {
  Site site;
  const auto a = site.as_peer(Method::get, "/v1/peer/inventory");
  REQUIRE(a.status == 200);
  CHECK(a.body["site"] == "site-b");
  CHECK(a.body["switches"][0]["name"] == "vswitch0");
  bool rbd = false;
  for (const auto& p : a.body["pools"]) rbd = rbd || p["name"] == "rbd";
  CHECK(rbd);
}

TEST_CASE("bootstrap refuses another site and an incomplete request", "[dr][bootstrap]") {
  Site site;
  const auto other =
      site.as_peer(Method::post, "/v1/peer/pools/rbd/bootstrap", json{{"site", "site-c"}, {"token", "x"}});
  CHECK(other.status == 403);
  CHECK(other.code == "permission_denied");
  const auto empty = site.as_peer(Method::post, "/v1/peer/pools/rbd/bootstrap", json::object());
  CHECK(empty.status == 400);
  CHECK(empty.pointers() == std::vector<std::string>{"", ""});
  const auto typed = site.as_peer(Method::post, "/v1/peer/pools/rbd/bootstrap",
                                  json{{"site", 1}, {"token", json::array()}});
  CHECK(typed.status == 400);
  CHECK(typed.pointers() == std::vector<std::string>{"/site", "/token"});
  // A pool spec in the path would reach into a namespace: only a pool's name is taken.
  const auto spec = site.as_peer(Method::post, "/v1/peer/pools/rbd%2Fns1/bootstrap",
                                 json{{"site", "site-a"}, {"token", "x"}});
  CHECK(spec.status == 400);
  CHECK_THAT(spec.message, Catch::Contains("'rbd/ns1' is not an RBD pool name"));
  const auto names = site.as_peer(Method::post, "/v1/peer/pools/rbd/bootstrap",
                                  json{{"site", "site-a"}, {"token", "x"}, {"namespaces", {"a/b"}}});
  CHECK(names.status == 400);
  CHECK(names.pointers() == std::vector<std::string>{"/namespaces/0"});
}

TEST_CASE("registration with fields of the wrong type is a 400 naming them", "[dr][register]") {
  Site site;
  const auto a = site.as_peer(Method::put, "/v1/peer/apps/app1",
                              json{{"mode", 1}, {"description", json::object()}});
  CHECK(a.status == 400);
  CHECK(a.pointers() == std::vector<std::string>{"/mode"});
  const auto second = site.as_peer(Method::put, "/v1/peer/apps/app1",
                                   json{{"mode", "second"}, {"description", json::object()}});
  CHECK(second.status == 400);
  CHECK_THAT(second.message, Catch::Contains("mode second needs 'first'"));
}

// Bodies no JSON reader should take, each sent on every route that reads a body: all are 400 with
// the error body, and the agent keeps answering (the deep one killed the DR agent once, before
// the webhook's signature was even looked at).
TEST_CASE("hostile JSON bodies are 400 on every route and the agent survives", "[dr][hostile]") {
  Site site;
  site.register_app1();
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  const std::string nul = std::string(R"({"type":"disaster"})") + '\0' + "garbage";
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"deep", deep}, {"nul", nul}, {"huge number", R"({"type": 1e400})"},
      {"trailing", R"({"type":"disaster"} x)"}};
  const std::vector<std::pair<Method, std::string>> routes = {
      {Method::post, "/v1/apps/app1/failover"},
      {Method::post, "/v1/hooks/alertmanager"},
  };
  std::int64_t t = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  for (const auto& [name, body] : bodies) {
    for (const auto& [method, target] : routes) {
      INFO(name << " -> " << target);
      transport::Headers headers;
      headers.set("Content-Type", "application/json");
      const auto a = send(*site.operator_client(), method, target, body, std::move(headers));
      CHECK(a.status == 400);
      CHECK(a.code == "invalid_argument");
    }
    INFO(name << " -> signed hook, signed");  // the signature is good: the body is read
    const auto hooked = site.hook(body, t++);
    CHECK(hooked.status == 400);
    CHECK(hooked.code == "invalid_argument");
    INFO(name << " -> peer registration");
    transport::Headers headers;
    headers.set("Content-Type", "application/json");
    const auto p = send(*site.peer_client(), Method::put, "/v1/peer/apps/app1", body,
                        std::move(headers));
    CHECK(p.status == 400);
  }
  CHECK(site.as_operator(Method::get, "/healthz").status == 200);
  CHECK(site.as_operator(Method::get, "/v1/apps/app1").body["state"] == "protecting");
}

TEST_CASE("the signed hook checks its signature before it reads the body", "[dr][hostile]") {
  Site site;
  site.register_app1();
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  const std::int64_t t = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  for (const std::string& body : {deep, std::string("{not json"), std::string("[]")}) {
    // Unsigned, or signed with another secret: refused on the signature, whatever the body.
    transport::Headers headers;
    headers.set("Content-Type", "application/json");
    const auto unsigned_ =
        send(*site.operator_client(), Method::post, "/v1/hooks/failover", body, std::move(headers));
    CHECK(unsigned_.status == 401);
    CHECK_THAT(unsigned_.message, Catch::Contains(std::string(webhook::kSignatureHeader)));
    const auto forged = site.hook(body, t, "another-secret");
    CHECK(forged.status == 401);
    CHECK(forged.code == "permission_denied");
  }
  CHECK(site.as_operator(Method::get, "/v1/apps/app1").body["state"] == "protecting");
}

TEST_CASE("operator failover: checks, idempotency, one job per app", "[dr][failover]") {
  Site site;
  SECTION("unknown app") {
    CHECK(site.as_operator(Method::post, "/v1/apps/nope/failover", json{{"type", "disaster"}})
              .status == 404);
  }
  SECTION("every problem of the request at once") {
    site.register_app1();
    const auto a = site.as_operator(
        Method::post, "/v1/apps/app1/failover",
        json{{"type", "sideways"}, {"force", "yes"}, {"reason", 7}, {"idempotencyKey", ""}});
    CHECK(a.status == 400);
    CHECK(a.pointers() ==
          std::vector<std::string>{"/type", "/idempotencyKey", "/reason", "/force"});
  }
  SECTION("a field of the wrong type is a 400 naming it, not a 500") {
    site.register_app1();
    for (const json& type : {json(1), json(nullptr), json::array({"disaster"})}) {
      const auto a = site.as_operator(Method::post, "/v1/apps/app1/failover", json{{"type", type}});
      CHECK(a.status == 400);
      CHECK(a.pointers() == std::vector<std::string>{"/type"});
    }
    const auto typo = site.as_operator(Method::post, "/v1/apps/app1/failover",
                                       json{{"type", "disaster"}, {"forse", true}});
    CHECK(typo.status == 400);
    CHECK(typo.pointers() == std::vector<std::string>{"/forse"});
  }
  SECTION("an app that already failed over") {
    site.register_app1();
    site.set_state(state::AppState::failing_over);
    site.set_state(state::AppState::failed_over);
    const auto a = site.as_operator(Method::post, "/v1/apps/app1/failover", json{{"type", "disaster"}});
    CHECK(a.status == 409);
    CHECK(a.message.find("already runs at site-b") != std::string::npos);
  }
  SECTION("the same idempotency key finds the same job") {
    site.register_app1();
    const json request{{"type", "disaster"}, {"idempotencyKey", "inc-1"}, {"reason", "test"}};
    const auto a = site.as_operator(Method::post, "/v1/apps/app1/failover", request);
    REQUIRE(a.status == 202);
    CHECK(a.body["created"] == true);
    const auto id = a.body["job"]["id"].get<std::int64_t>();
    const auto b = site.as_operator(Method::post, "/v1/apps/app1/failover", request);
    REQUIRE(b.status == 202);
    CHECK(b.body["created"] == false);
    CHECK(b.body["job"]["id"] == id);
    // site-a is unreachable, so the fence passes; this site's storage answers nothing about the
    // images, so the job fails at a promote step with the storage's error and the app is failed.
    const auto job = site.finished_job(id);
    CHECK(job["state"] == "failed");
    CHECK(job["steps"][0]["name"] == "fence");
    CHECK(job["steps"][0]["state"] == "done");
    INFO(job.dump());
    CHECK(job["currentStep"].get<std::string>().rfind("promote:", 0) == 0);
    CHECK(job["error"]["message"].get<std::string>().find("OnePoolStorage::") !=
          std::string::npos);
    CHECK(site.as_operator(Method::get, "/v1/apps/app1").body["state"] == "failed");
  }
}

TEST_CASE("reprotect and failback: who may ask, in which state, and what a refusal says",
          "[dr][failback]") {
  Site site;
  site.register_app1();  // protecting
  SECTION("operators only") {
    CHECK(site.as_peer(Method::post, "/v1/apps/app1/reprotect").status == 403);
    CHECK(site.as_peer(Method::post, "/v1/apps/app1/failback").status == 403);
    CHECK(site.as_operator(Method::post, "/v1/apps/nope/reprotect").status == 404);
    CHECK(site.as_operator(Method::post, "/v1/apps/nope/failback").status == 404);
  }
  SECTION("the body is optional and strict") {
    site.set_state(state::AppState::failing_over);
    site.set_state(state::AppState::failed_over);
    const auto typo =
        site.as_operator(Method::post, "/v1/apps/app1/reprotect", json{{"reasn", "typo"}});
    CHECK(typo.status == 400);
    CHECK(typo.pointers() == std::vector<std::string>{"/reasn"});
    const auto wrong = site.as_operator(Method::post, "/v1/apps/app1/failback", json::array());
    CHECK(wrong.status == 400);
  }
  SECTION("an app that did not fail over is neither reprotected nor failed back") {
    const auto r = site.as_operator(Method::post, "/v1/apps/app1/reprotect");
    CHECK(r.status == 409);
    CHECK(r.message.find("only an app failed over to this site is reprotected") !=
          std::string::npos);
    const auto f = site.as_operator(Method::post, "/v1/apps/app1/failback");
    CHECK(f.status == 409);
    CHECK(f.message.find("it runs at the production site already") != std::string::npos);
  }
  SECTION("a failback before the reprotect says to reprotect first") {
    site.set_state(state::AppState::failing_over);
    site.set_state(state::AppState::failed_over);
    const auto f = site.as_operator(Method::post, "/v1/apps/app1/failback");
    CHECK(f.status == 409);
    CHECK(f.message.find("reprotect it first (drpair reprotect app1)") != std::string::npos);
  }
  SECTION("a reprotect needs the production site up, and changes nothing without it") {
    site.set_state(state::AppState::failing_over);
    site.set_state(state::AppState::failed_over);
    const auto a = site.as_operator(Method::post, "/v1/apps/app1/reprotect",
                                    json{{"reason", "site-a is back"}});
    REQUIRE(a.status == 202);
    CHECK(a.body["job"]["type"] == "reprotect");
    const auto job = site.finished_job(a.body["job"]["id"].get<std::int64_t>());
    INFO(job.dump());
    CHECK(job["state"] == "failed");
    CHECK(job["steps"][0]["name"] == "check-production");
    CHECK(job["error"]["message"].get<std::string>().find("needs site-a up") != std::string::npos);
    CHECK(site.as_operator(Method::get, "/v1/apps/app1").body["state"] == "failed_over");
  }
  SECTION("a failback needs the production site up, and changes nothing without it") {
    for (auto s : {state::AppState::failing_over, state::AppState::failed_over,
                   state::AppState::reprotecting, state::AppState::protected_reverse}) {
      site.set_state(s);
    }
    const auto a = site.as_operator(Method::post, "/v1/apps/app1/failback");
    REQUIRE(a.status == 202);
    const auto job = site.finished_job(a.body["job"]["id"].get<std::int64_t>());
    INFO(job.dump());
    CHECK(job["state"] == "failed");
    CHECK(job["error"]["message"].get<std::string>().find("needs site-a up") != std::string::npos);
    CHECK(site.as_operator(Method::get, "/v1/apps/app1").body["state"] == "protected_reverse");
    // A second failback while it is reprotected is a new job; while one runs, the same one.
    const auto again = site.as_operator(Method::post, "/v1/apps/app1/failback");
    CHECK(again.status == 202);
  }
}

TEST_CASE("drill and drill cleanup: who may ask, in which state, and what a refusal says",
          "[dr][drill]") {
  Site site;
  site.register_app1();  // protecting
  SECTION("operators only, and a known app") {
    CHECK(site.as_peer(Method::post, "/v1/apps/app1/drill").status == 403);
    CHECK(site.as_peer(Method::post, "/v1/apps/app1/drill/cleanup").status == 403);
    CHECK(site.as_operator(Method::post, "/v1/apps/nope/drill").status == 404);
    CHECK(site.as_operator(Method::post, "/v1/apps/nope/drill/cleanup").status == 404);
    const auto typo = site.as_operator(Method::post, "/v1/apps/app1/drill", json{{"why", "x"}});
    CHECK(typo.status == 400);
    CHECK(typo.pointers() == std::vector<std::string>{"/why"});
  }
  SECTION("a drill needs a protected app, then a drill switch") {
    const auto a = site.as_operator(Method::post, "/v1/apps/app1/drill");
    CHECK(a.status == 409);
    CHECK(a.message.ends_with(": app 'app1' is protecting at site-b: a drill needs a protected "
                              "app (its replicas here, production running)"));
    site.set_state(state::AppState::protected_);
    const auto b = site.as_operator(Method::post, "/v1/apps/app1/drill");
    CHECK(b.status == 409);
    CHECK(b.message.find("site-b has no drill switch") != std::string::npos);
  }
  SECTION("no drill, nothing to clean up") {
    const auto a = site.as_operator(Method::post, "/v1/apps/app1/drill/cleanup");
    CHECK(a.status == 409);
    CHECK(a.message.ends_with(": app 'app1' has had no drill at site-b: nothing to clean up"));
    CHECK(site.as_operator(Method::get, "/v1/apps/app1").body["drill"].is_null());
  }
  SECTION("a drill in place: shown, blocks unregistering, cleaned up on request") {
    // A drill that got as far as its copies and failed there.
    auto& store = *site.runtime().store;
    auto drill = store.create_job("app1", state::JobType::drill, std::nullopt, "{}");
    REQUIRE(drill);
    const auto id = drill->job.id;
    REQUIRE(store.set_job_state(id, state::JobState::running, std::nullopt));
    REQUIRE(store.record_step_intent(id, "plan"));
    REQUIRE(store.record_step_failed(id, "plan", fail(Errc::unavailable, "x"), "{}"));
    REQUIRE(store.record_step_intent(id, "copy:rbd/app1-web1-root"));
    REQUIRE(store.set_job_state(id, state::JobState::failed, fail(Errc::unavailable, "x")));
    const auto detail = site.as_operator(Method::get, "/v1/apps/app1");
    REQUIRE(detail.body["drill"].is_object());
    CHECK(detail.body["drill"]["job"] == id);
    CHECK(detail.body["drill"]["state"] == "failed");
    CHECK(detail.body["drill"]["domains"] == json::array());
    const auto gone = site.as_peer(Method::delete_, "/v1/peer/apps/app1");
    CHECK(gone.status == 409);
    CHECK(gone.message.find("has a drill in place at site-b (job " + std::to_string(id) +
                            "): clean it up there first (drpair drill app1 --cleanup)") !=
          std::string::npos);
    site.set_state(state::AppState::protected_);
    const auto again = site.as_operator(Method::post, "/v1/apps/app1/drill");
    CHECK(again.status == 409);
    CHECK(again.message.find("site-b has no drill switch") != std::string::npos);
    const auto c = site.as_operator(Method::post, "/v1/apps/app1/drill/cleanup");
    REQUIRE(c.status == 202);
    CHECK(c.body["job"]["type"] == "drill_cleanup");
    const auto job = site.finished_job(c.body["job"]["id"].get<std::int64_t>());
    INFO(job.dump());
    CHECK(job["state"] == "succeeded");
    CHECK(site.as_operator(Method::get, "/v1/apps/app1").body["drill"].is_null());
    CHECK(site.as_peer(Method::delete_, "/v1/peer/apps/app1").status == 204);
  }
}

TEST_CASE("a failover request cancels a running drill of the app and goes ahead", "[dr][drill]") {
  Site site;
  site.register_app1();
  site.set_state(state::AppState::protected_);
  auto& store = *site.runtime().store;
  auto drill = store.create_job("app1", state::JobType::drill, std::nullopt, "{}");
  REQUIRE(drill);
  REQUIRE(store.set_job_state(drill->job.id, state::JobState::running, std::nullopt));
  // Another job type still waits for the drill.
  const auto refused = site.as_operator(Method::post, "/v1/apps/app1/reprotect");
  CHECK(refused.status == 409);
  const auto a = site.as_operator(Method::post, "/v1/apps/app1/failover",
                                  json{{"type", "disaster"}, {"reason", "site-a lost"}});
  REQUIRE(a.status == 202);
  CHECK(a.body["job"]["type"] == "failover_disaster");
  auto cancelled = store.get_job(drill->job.id);
  REQUIRE(cancelled);
  CHECK(cancelled->state == state::JobState::cancelled);
  REQUIRE(cancelled->error);
  CHECK(cancelled->error->message == "cancelled by operator ops's failover");
}

TEST_CASE("signed webhook: signature, staleness, replay, body, app", "[dr][webhook]") {
  Site site;
  site.register_app1();
  const std::string body =
      R"({"app":"app1","type":"disaster","idempotencyKey":"hook-1","reason":"test"})";
  const auto t = unix_now();
  CHECK(site.hook(body, t, "wrong-secret").status == 401);
  CHECK(site.hook(body, t - 600).status == 401);
  CHECK(site.hook(R"({"app":"app1","type":"sideways","idempotencyKey":"k"})", t).status == 400);
  CHECK(site.hook(R"({"app":"nope","type":"disaster","idempotencyKey":"k"})", t).status == 404);
  const auto accepted = site.hook(body, t);
  REQUIRE(accepted.status == 202);
  CHECK(accepted.body["created"] == true);
  CHECK(site.hook(body, t).status == 409);  // the same delivery again
  const auto retry = site.hook(body, t + 1);  // signed anew, same idempotency key
  REQUIRE(retry.status == 202);
  CHECK(retry.body["created"] == false);
  CHECK(retry.body["job"]["id"] == accepted.body["job"]["id"]);
  const auto unsigned_ = site.as_operator(Method::post, "/v1/hooks/failover", json::parse(body));
  CHECK(unsigned_.status == 401);
  CHECK(unsigned_.code == "permission_denied");
}

TEST_CASE("the signed webhook may not ask for force unless the config allows it",
          "[dr][webhook][roles]") {
  Site site;
  site.register_app1();
  const std::string forced =
      R"({"app":"app1","type":"disaster","idempotencyKey":"f-1","force":true})";
  const auto refused = site.hook(forced, unix_now());
  CHECK(refused.status == 403);
  CHECK(refused.code == "permission_denied");
  CHECK_THAT(refused.message, Catch::Contains("webhooks.allowForce"));
  CHECK(site.as_operator(Method::get, "/v1/apps/app1").body["jobs"].empty());  // no job

  Site allowing(true, /*allow_force=*/true);
  allowing.register_app1();
  CHECK(allowing.hook(forced, unix_now()).status == 202);
}

// Each credential can do only its job: a viewer reads, the Alertmanager token calls its hook, and
// every refusal says which role the route needs.
TEST_CASE("roles: a viewer only reads, the Alertmanager token only calls its hook",
          "[dr][roles]") {
  Site site;
  site.register_app1();
  auto viewer = site.client_as("operator/dashboard");
  CHECK(call(*viewer, Method::get, "/v1/apps").status == 200);
  CHECK(call(*viewer, Method::get, "/v1/apps/app1").status == 200);
  CHECK(call(*viewer, Method::get, "/v1/jobs").status == 200);
  CHECK(call(*viewer, Method::get, "/v1/apps/app1/descriptions").status == 200);
  const auto change = call(*viewer, Method::post, "/v1/apps/app1/failover",
                           json{{"type", "disaster"}, {"force", true}});
  CHECK(change.status == 403);
  CHECK_THAT(change.message, Catch::Contains("viewer caller 'dashboard'"));
  CHECK_THAT(change.message, Catch::Contains("needs the role operator"));
  CHECK(call(*viewer, Method::post, "/v1/hooks/alertmanager", alert("firing", "app1")).status ==
        403);
  CHECK(call(*viewer, Method::get, "/v1/peer/apps/app1").status == 403);

  auto hook = site.client_as("operator/dashboard", kAlertmanagerToken);
  for (const auto& [method, target] :
       std::vector<std::pair<Method, std::string>>{{Method::get, "/v1/apps"},
                                                   {Method::get, "/v1/apps/app1"},
                                                   {Method::get, "/v1/jobs"},
                                                   {Method::post, "/v1/apps/app1/failover"},
                                                   {Method::get, "/v1/peer/apps/app1"}}) {
    INFO(target);
    const auto a = call(*hook, method, target, json{{"type", "disaster"}, {"force", true}});
    CHECK(a.status == 403);
    CHECK_THAT(a.message, Catch::Contains("alertmanager caller 'alertmanager'"));
  }
  CHECK(site.as_operator(Method::get, "/v1/apps/app1").body["jobs"].empty());  // nothing started
  CHECK(call(*hook, Method::post, "/v1/hooks/alertmanager", alert("firing", "app1")).status ==
        202);
  CHECK(call(*hook, Method::get, "/healthz").status == 200);
}

TEST_CASE("the audit trail: failovers from every door, and every refusal, with who and what",
          "[dr][audit]") {
  Site site;
  site.register_app1();  // PUT by the peer: a change, recorded
  auto viewer = site.client_as("operator/dashboard");
  auto hook = site.client_as("operator/dashboard", kAlertmanagerToken);
  auto bad_token = site.client_as("operator/ops", "not-a-token");

  CHECK(call(*viewer, Method::post, "/v1/apps/app1/failover", json{{"type", "disaster"}}).status ==
        403);
  CHECK(call(*bad_token, Method::get, "/v1/apps").status == 401);
  CHECK(call(*hook, Method::get, "/v1/apps").status == 403);
  CHECK(site.as_operator(Method::get, "/v1/apps").status == 200);  // a read: not recorded
  const auto am = call(*hook, Method::post, "/v1/hooks/alertmanager", alert("firing", "app1"));
  REQUIRE(am.status == 202);
  const auto am_job = am.body["jobs"][0]["id"].get<std::int64_t>();
  site.finished_job(am_job);
  const auto ops = site.as_operator(Method::post, "/v1/apps/app1/failover",
                                    json{{"type", "disaster"}, {"reason", "audit test"}});
  REQUIRE(ops.status == 202);
  const auto ops_job = ops.body["job"]["id"].get<std::int64_t>();
  site.finished_job(ops_job);
  const auto signed_ = site.hook(R"({"app":"app1","type":"disaster","idempotencyKey":"audit-1"})",
                                 unix_now());
  REQUIRE(signed_.status == 202);

  const auto trail = call(*viewer, Method::get, "/v1/audit");
  REQUIRE(trail.status == 200);
  const auto& entries = trail.body["entries"];
  REQUIRE(entries.size() == 7);
  auto who = [&](std::size_t i) {
    return entries[i]["caller"]["kind"].get<std::string>() + ":" +
           entries[i]["caller"]["name"].get<std::string>();
  };
  // Newest first.
  CHECK(who(0) == "operator:ops");  // the signed hook came on the operator's connection
  CHECK(entries[0]["path"] == "/v1/hooks/failover");
  CHECK(entries[0]["status"] == 202);
  CHECK(entries[0]["job"] == signed_.body["job"]["id"]);
  CHECK(who(1) == "operator:ops");
  CHECK(entries[1]["method"] == "POST");
  CHECK(entries[1]["path"] == "/v1/apps/app1/failover");
  CHECK(entries[1]["job"] == ops_job);
  CHECK(who(2) == "alertmanager:alertmanager");
  CHECK(entries[2]["path"] == "/v1/hooks/alertmanager");
  CHECK(entries[2]["job"] == am_job);
  CHECK(who(3) == "alertmanager:alertmanager");
  CHECK(entries[3]["method"] == "GET");
  CHECK(entries[3]["status"] == 403);
  CHECK_THAT(entries[3]["message"].get<std::string>(), Catch::Contains("needs the role"));
  CHECK(who(4) == "operator:ops");  // the connection's identity: the token was not accepted
  CHECK(entries[4]["status"] == 401);
  CHECK(who(5) == "viewer:dashboard");
  CHECK(entries[5]["status"] == 403);
  CHECK(who(6) == "peer_site:site-a");
  CHECK(entries[6]["method"] == "PUT");
  CHECK(entries[6]["status"] == 200);

  const auto page = call(*viewer, Method::get,
                         "/v1/audit?limit=2&before=" + entries[1]["id"].dump());
  REQUIRE(page.status == 200);
  REQUIRE(page.body["entries"].size() == 2);
  CHECK(page.body["entries"][0]["id"] == entries[2]["id"]);
  CHECK(call(*viewer, Method::get, "/v1/audit?limit=0").status == 400);
  CHECK(call(*viewer, Method::get, "/v1/audit?before=x").status == 400);
  CHECK(call(*hook, Method::get, "/v1/audit").status == 403);
}

TEST_CASE("hooks that are not configured are 404", "[dr][webhook]") {
  Site site(false);
  site.register_app1();
  const std::string body = R"({"app":"app1","type":"disaster","idempotencyKey":"k"})";
  CHECK(site.hook(body, unix_now()).status == 404);
  CHECK(site.as_operator(Method::post, "/v1/hooks/alertmanager", alert("firing", "app1")).status ==
        404);
  CHECK(site.as_operator(Method::get, "/v1/apps/app1").body["jobs"].empty());
}

TEST_CASE("Alertmanager: firing alerts fail apps over, resolved ones do nothing", "[dr][alertmanager]") {
  Site site;
  site.register_app1();
  const auto resolved = site.alertmanager(alert("resolved", "app1"));
  REQUIRE(resolved.status == 202);
  CHECK(resolved.body["jobs"].empty());
  CHECK(site.alertmanager(json{{"version", "3"}, {"alerts", json::array()}}).status == 400);
  const auto unknown = site.alertmanager(alert("firing", "nope"));
  REQUIRE(unknown.status == 202);
  CHECK(unknown.body["jobs"].empty());
  REQUIRE(unknown.body["ignored"].size() == 1);
  CHECK(unknown.body["ignored"][0]["app"] == "nope");

  const auto fired = site.alertmanager(alert("firing", "app1"));
  REQUIRE(fired.status == 202);
  REQUIRE(fired.body["jobs"].size() == 1);
  const auto id = fired.body["jobs"][0]["id"];
  CHECK(fired.body["jobs"][0]["type"] == "failover_disaster");
  // Alertmanager repeats a firing alert: the same alert finds the same job.
  const auto repeated = site.alertmanager(alert("firing", "app1"));
  REQUIRE(repeated.body["jobs"].size() == 1);
  CHECK(repeated.body["jobs"][0]["id"] == id);
  site.finished_job(id.get<std::int64_t>());
}

TEST_CASE("Alertmanager's token is checked", "[dr][alertmanager]") {
  Site site;
  site.register_app1();
  const auto a = site.alertmanager(alert("firing", "app1"), "not-the-token");
  CHECK(a.status == 401);
  CHECK(site.as_operator(Method::get, "/v1/apps/app1").body["jobs"].empty());
}

}  // namespace
}  // namespace dr::testing
