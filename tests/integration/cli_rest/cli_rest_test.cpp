// The real `drpair` binary against an in-process agent: an HttpServer on 127.0.0.1 with mutual
// TLS (throwaway PKI from deploy/pki/make-pki.sh) and a Router of canned handlers that answer as
// /work/spec/api.md says, including jobs that advance one step per poll. Each case runs the CLI
// as a process with a clean environment and checks its exit code, its output and what the agent
// received.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "transport/error_mapping.hpp"
#include "transport/http_server.hpp"
#include "support/test_pki.hpp"
#include "support/wait_until.hpp"

namespace dr::cli {
namespace {

using dr::testing::ProcessResult;
using dr::testing::run_process;
using dr::testing::TestPki;
using nlohmann::json;
using transport::Method;
using transport::Request;
using transport::Response;

constexpr const char* kToken = "dashboard-token-0123456789";

// "2026-11-25T10:MM:SS.mmmZ", `seconds` after the jobs' common creation time.
std::string at(double seconds) {
  const int minutes = static_cast<int>(seconds / 60);
  char buf[64];
  std::snprintf(buf, sizeof buf, "2026-11-25T10:%02d:%06.3fZ", minutes, seconds - minutes * 60.0);
  return buf;
}

json step(int seq, const std::string& name, const std::string& state, double started,
          double finished = -1) {
  json s{
      {"seq", seq}, {"name", name}, {"state", state}, {"attempts", 1}, {"startedAt", at(started)}};
  if (finished >= 0) {
    s["finishedAt"] = at(finished);
    s["durationMs"] = std::lround((finished - started) * 1000);
  }
  return s;
}

json job(std::int64_t id, const std::string& app, const std::string& type, const std::string& state,
         json steps, double updated) {
  json j{{"id", id},
         {"app", app},
         {"type", type},
         {"state", state},
         {"createdAt", at(0)},
         {"updatedAt", at(updated)},
         {"request", json::object()},
         {"steps", std::move(steps)}};
  if (!j["steps"].empty()) j["currentStep"] = j["steps"].back()["name"];
  return j;
}

// What GET /v1/jobs/{id} answers on each successive poll; the last frame repeats.
std::map<std::int64_t, std::vector<json>> scripted_jobs() {
  std::map<std::int64_t, std::vector<json>> jobs;
  const std::string promote = "promote:rbd/app1-web1-root";
  // 7: a disaster failover of app1 that succeeds.
  jobs[7] = {
      job(7, "app1", "failover_disaster", "pending", json::array(), 0),
      job(7, "app1", "failover_disaster", "running", {step(1, "fence", "intent_recorded", 0)}, 0),
      job(7, "app1", "failover_disaster", "running",
          {step(1, "fence", "done", 0, 0.012), step(2, promote, "intent_recorded", 11.3)}, 11.3),
      job(7, "app1", "failover_disaster", "running",
          {step(1, "fence", "done", 0, 0.012), step(2, promote, "done", 11.3, 12.4),
           step(3, "start:web1", "intent_recorded", 12.4)},
          12.4),
      job(7, "app1", "failover_disaster", "succeeded",
          {step(1, "fence", "done", 0, 0.012), step(2, promote, "done", 11.3, 12.4),
           step(3, "start:web1", "done", 12.4, 23.5)},
          23.5),
  };
  // 8: a planned failover of app2 whose promote fails.
  json failed = step(2, "promote:rbd/app2-db-root", "failed", 1.0, 3.2);
  failed["error"] = {{"code", "unavailable"}, {"message", "rbd/app2-db-root: promote: timed out"}};
  json failed_job = job(8, "app2", "failover_planned", "failed",
                        {step(1, "demote_peer", "done", 0, 1.0), failed}, 3.2);
  failed_job["error"] = failed["error"];
  jobs[8] = {
      job(8, "app2", "failover_planned", "running", {step(1, "demote_peer", "intent_recorded", 0)},
          0),
      job(8, "app2", "failover_planned", "running",
          {step(1, "demote_peer", "done", 0, 1.0),
           step(2, "promote:rbd/app2-db-root", "intent_recorded", 1.0)},
          1.0),
      failed_job,
  };
  // 9: protect app1, quick.
  jobs[9] = {
      job(9, "app1", "protect", "running", {step(1, "capture", "intent_recorded", 0)}, 0),
      job(9, "app1", "protect", "succeeded", {step(1, "capture", "done", 0, 0.8)}, 0.8),
  };
  // 10: unprotect app1, cancelled.
  jobs[10] = {
      job(10, "app1", "unprotect", "running",
          {step(1, "disable:rbd/app1-web1-root", "intent_recorded", 0)}, 0),
      job(10, "app1", "unprotect", "cancelled",
          {step(1, "disable:rbd/app1-web1-root", "intent_recorded", 0)}, 2.0),
  };
  // 11: reprotect app1, a resync then the reverse.
  jobs[11] = {
      job(11, "app1", "reprotect", "running",
          {step(1, "check-production", "done", 0, 0.1),
           step(2, "reprotect:rbd/app1-web1-root", "intent_recorded", 0.1)},
          0.1),
      job(11, "app1", "reprotect", "succeeded",
          {step(1, "check-production", "done", 0, 0.1),
           step(2, "reprotect:rbd/app1-web1-root", "done", 0.1, 42.0),
           step(3, "reverse-production", "done", 42.0, 42.1)},
          42.1),
  };
  return jobs;
}

json app_summary(const std::string& id) {
  if (id == "app2") {
    return {{"id", "app2"},    {"name", "APP2"}, {"state", "unprotected"},
            {"generation", 0}, {"vms", 1},       {"updatedAt", at(0)}};
  }
  return {{"id", "app1"},
          {"name", "APP1"},
          {"role", "registered_replica"},
          {"state", "protected"},
          {"generation", 3},
          {"peerSite", "site-a"},
          {"vms", 4},
          {"updatedAt", at(5)}};
}

json app_detail() {
  json app = app_summary("app1");
  app["version"] = 5;
  app["createdAt"] = at(0);
  app["peer"] = {{"site", "site-a"}, {"reachable", true}, {"lastContactAt", at(4)}};
  app["images"] = json::array({{{"source", "rbd/app1-web1-root"},
                                {"target", "rbd/app1-web1-root"},
                                {"mode", "snapshot"},
                                {"intervalMinutes", 1},
                                {"status", "up+replaying"},
                                {"lastSyncAt", at(3)},
                                {"lagSeconds", 4},
                                {"lastSnapshotAt", at(2)}},
                               {{"source", "rbd/app1-db-root"},
                                {"target", "rbd-dr/app1-db-root"},
                                {"mode", "snapshot"},
                                {"intervalMinutes", 5},
                                {"status", "up+syncing"},
                                {"lastSyncAt", nullptr},
                                {"lagSeconds", nullptr},
                                {"lastSnapshotAt", nullptr}}});
  // (A production agent's field; the CLI shows it whoever sends it.)
  app["drCheck"] = {{"confirmed", false},
                    {"checkedAt", at(4)},
                    {"drState", "failed_over"},
                    {"detail", "it runs there, so here it is fenced"}};
  json recent = scripted_jobs()[9].back();
  recent.erase("steps");
  app["jobs"] = json::array({recent});
  return app;
}

// One agent, answering the operator API from canned data.
class FakeAgent {
 public:
  FakeAgent() : jobs_(scripted_jobs()) {
    const auto& pki = TestPki::get();
    auto router = std::make_shared<transport::Router>();
    const auto op = transport::kOperatorOnly;
    router
        ->add(Method::get, "/v1/apps", op,
              [this](const Request& r) {
                record(r);
                return Response::json(200, {{"apps", {app_summary("app1"), app_summary("app2")}}});
              })
        .add(Method::get, "/v1/apps/{app}", op,
             [this](const Request& r) {
               record(r);
               if (r.param("app") != "app1") return not_found(r.param("app"));
               return Response::json(200, app_detail());
             })
        .add(Method::post, "/v1/apps/{app}/protection", op,
             [this](const Request& r) {
               record(r);
               if (r.param("app") != "app1") return not_found(r.param("app"));
               auto res = Response::json(202, {{"job", start_job(9)}});
               res.headers.add("Location", "/v1/jobs/9");
               return res;
             })
        .add(Method::delete_, "/v1/apps/{app}/protection", op,
             [this](const Request& r) {
               record(r);
               return Response::json(202, {{"job", start_job(10)}});
             })
        .add(Method::post, "/v1/apps/{app}/snapshots", op,
             [this](const Request& r) {
               record(r);
               return Response::json(
                   200, {{"snapshots",
                          {{{"image", "rbd/app1-web1-root"}, {"snapId", 12}, {"takenAt", at(1)}},
                           {{"image", "rbd/app1-db-root"}, {"snapId", 13}, {"takenAt", at(1)}}}}});
             })
        .add(Method::post, "/v1/apps/{app}/failover", op,
             [this](const Request& r) {
               record(r);
               const std::string app = r.param("app");
               if (app == "bad") {
                 return transport::error_response(
                     {{"/reason", "must not be empty"}, {"/type", "not planned or disaster"}},
                     "the failover request is not valid");
               }
               if (app == "busy") {
                 return transport::error_response(
                     fail(Errc::failed_precondition, "app 'busy' has a protect job running"));
               }
               if (app != "app1" && app != "app2") return not_found(app);
               std::lock_guard lock(mutex_);
               const std::string key = r.json.value("idempotencyKey", "");
               const bool repeat = !key.empty() && keys_.count(key) > 0;
               keys_.insert(key);
               const std::int64_t id = app == "app1" ? 7 : 8;
               if (!repeat) polls_[id] = 0;
               return Response::json(202, {{"job", jobs_[id][0]}, {"created", !repeat}});
             })
        .add(Method::post, "/v1/apps/{app}/reprotect", op,
             [this](const Request& r) {
               record(r);
               if (r.param("app") != "app1") return not_found(r.param("app"));
               return Response::json(202, {{"job", start_job(11)}, {"created", true}});
             })
        .add(Method::post, "/v1/apps/{app}/failback", op,
             [this](const Request& r) {
               record(r);
               return transport::error_response(
                   fail(Errc::failed_precondition,
                        "app '" + r.param("app") + "' is failed_over: reprotect it first"));
             })
        .add(Method::get, "/v1/audit", op,
             [this](const Request& r) {
               record(r);
               return Response::json(
                   200, {{"entries",
                          {{{"id", 2}, {"at", at(2)}, {"caller", {{"kind", "viewer"}, {"name", "dash"}}},
                            {"method", "POST"}, {"path", "/v1/apps/app1/failover"}, {"status", 403},
                            {"message", "needs the role operator"}},
                           {{"id", 1}, {"at", at(1)}, {"caller", {{"kind", "operator"}, {"name", "ops"}}},
                            {"method", "POST"}, {"path", "/v1/apps/app1/failover"}, {"status", 202},
                            {"job", 7}}}}});
             })
        .add(Method::get, "/v1/jobs", op,
             [this](const Request& r) {
               record(r);
               json list = json::array();
               for (const std::int64_t id : {10, 9, 8, 7}) {
                 json j = jobs_[id].back();
                 j.erase("steps");
                 auto app = r.query.find("app");
                 if (app == r.query.end() || app->second == j["app"]) list.push_back(j);
               }
               return Response::json(200, {{"jobs", list}});
             })
        .add(Method::get, "/v1/jobs/{id}", op, [this](const Request& r) {
          record(r);
          std::lock_guard lock(mutex_);
          const auto it = jobs_.find(std::atoll(r.param("id").c_str()));
          if (it == jobs_.end()) {
            return transport::error_response(
                fail(Errc::not_found, "job " + r.param("id") + " not found"));
          }
          std::size_t& poll = polls_[it->first];
          const json& frame = it->second[std::min(poll, it->second.size() - 1)];
          ++poll;
          return Response::json(200, frame);
        });
    transport::ServerOptions options;
    options.tls = {pki.file("site-b/agent.crt"), pki.file("site-b/agent.key"),
                   pki.file("site-a/ca.crt"), pki.file("operator/ca.crt")};
    options.auth.peer_site = "site-a";
    options.auth.operator_names = {"ops"};
    options.auth.bearer_tokens = {{"grafana", transport::sha256_hex(kToken)}};
    auto started = transport::HttpServer::start(std::move(options), std::move(router));
    REQUIRE(started);
    server_ = std::move(*started);
  }

  std::string url() const { return "https://127.0.0.1:" + std::to_string(server_->port()); }
  void stop() { server_->stop(); }

  // "METHOD target" of every request, in order, and the JSON bodies.
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::vector<json> bodies() {
    std::lock_guard lock(mutex_);
    return bodies_;
  }

 private:
  void record(const Request& r) {
    std::lock_guard lock(mutex_);
    requests_.push_back(std::string(transport::to_string(r.method)) + " " + r.target);
    bodies_.push_back(r.json);
  }
  json start_job(std::int64_t id) {
    std::lock_guard lock(mutex_);
    polls_[id] = 0;
    return jobs_[id][0];
  }
  static Response not_found(const std::string& app) {
    return transport::error_response(fail(Errc::not_found, "app '" + app + "' is not known here"));
  }

  std::mutex mutex_;
  std::map<std::int64_t, std::vector<json>> jobs_;
  std::map<std::int64_t, std::size_t> polls_;
  std::set<std::string> keys_;
  std::vector<std::string> requests_;
  std::vector<json> bodies_;
  std::unique_ptr<transport::HttpServer> server_;
};

using Env = std::map<std::string, std::string>;

// The operator's TLS files, as the environment variables would give them.
Env tls_env() {
  const auto& pki = TestPki::get();
  return {{"DRPAIR_CACERT", pki.file("site-b/ca.crt")},
          {"DRPAIR_CERT", pki.file("operator/ops.crt")},
          {"DRPAIR_KEY", pki.file("operator/ops.key")}};
}

std::vector<std::string> tls_flags() {
  const auto& pki = TestPki::get();
  return {"--cacert", pki.file("site-b/ca.crt"),   "--cert", pki.file("operator/ops.crt"),
          "--key",    pki.file("operator/ops.key")};
}

// Runs drpair with exactly `env` as its environment.
ProcessResult drpair(const std::vector<std::string>& args, const Env& env = {}) {
  std::vector<std::string> argv{"/usr/bin/env", "-i"};
  for (const auto& [name, value] : env) argv.push_back(name + "=" + value);
  argv.push_back(DRPAIR_BIN);
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv);
}

// drpair ARGS --url URL --cacert ... --cert ... --key ...
ProcessResult drpair_at(const FakeAgent& agent, std::vector<std::string> args) {
  args.push_back("--url");
  args.push_back(agent.url());
  for (auto& flag : tls_flags()) args.push_back(flag);
  return drpair(args);
}

TEST_CASE("apps prints one table row per app", "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"apps"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "ID    STATE        GENERATION  PEER    VMS\n"
        "app1  protected    3           site-a  4\n"
        "app2  unprotected  0           -       1\n");
  CHECK(agent.requests() == std::vector<std::string>{"GET /v1/apps"});
}

TEST_CASE("apps --json prints the agent's body", "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"apps", "--json"});
  CHECK(r.exit_code == 0);
  CHECK(json::parse(r.out) == json{{"apps", {app_summary("app1"), app_summary("app2")}}});
}

TEST_CASE("status shows state, peer, per-image lag and recent jobs", "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"status", "app1"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("state       protected\n"));
  CHECK_THAT(r.out, Catch::Contains("generation  3\n"));
  CHECK_THAT(r.out, Catch::Contains("peer        site-a: reachable, last contact " + at(4)));
  CHECK_THAT(r.out, Catch::Contains("dr check    NOT CONFIRMED (failed_over there), checked " +
                                    at(4) + ": it runs there, so here it is fenced\n"));
  CHECK_THAT(r.out, Catch::Contains("IMAGE               TARGET               MODE      STATUS"));
  CHECK_THAT(r.out, Catch::Contains("rbd/app1-web1-root  rbd/app1-web1-root   snapshot  "
                                    "up+replaying  4 s  " +
                                    at(3)));
  CHECK_THAT(r.out, Catch::Contains("rbd/app1-db-root    rbd-dr/app1-db-root  snapshot  "
                                    "up+syncing    -    -"));
  CHECK_THAT(r.out, Catch::Contains("JOB  TYPE     STATE      STEP     UPDATED\n"
                                    "9    protect  succeeded  capture  " +
                                    at(0.8)));

  const auto j = drpair_at(agent, {"status", "app1", "--json"});
  CHECK(j.exit_code == 0);
  CHECK(json::parse(j.out) == app_detail());
}

TEST_CASE("an agent's error is printed with its code and exits 1", "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"status", "nope"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "drpair: not_found: app 'nope' is not known here\n");
  CHECK(r.out.empty());
}

TEST_CASE("a refused request document prints every problem as POINTER: message",
          "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"failover", "bad", "--type", "planned"});
  CHECK(r.exit_code == 1);
  CHECK(r.err ==
        "drpair: invalid_argument: the failover request is not valid\n"
        "/reason: must not be empty\n"
        "/type: not planned or disaster\n");
}

TEST_CASE("a wrong-state answer (409) exits 1 with its code", "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"failover", "busy", "--type", "disaster"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "drpair: failed_precondition: app 'busy' has a protect job running\n");
}

TEST_CASE("protect sends the mode and prints the job it started", "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"protect", "app1", "--mode", "first"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("job 9: protect of app1, running\n"));
  CHECK_THAT(r.out, Catch::Contains("drpair jobs 9 --follow --url " + agent.url()));
  CHECK(agent.requests() == std::vector<std::string>{"POST /v1/apps/app1/protection"});
  CHECK(agent.bodies()[0] == json{{"mode", "first"}});
}

TEST_CASE("protect refuses a mode other than first or second (exit 2)", "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"protect", "app1", "--mode", "third"});
  CHECK(r.exit_code == 2);
  CHECK(agent.requests().empty());
}

TEST_CASE("protect --wait follows the job to success (exit 0)", "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"protect", "app1", "--mode", "second", "--wait"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "job 9: protect of app1\n"
        "   0.0s  capture  started\n"
        "   0.8s  capture  done  (0.8 s)\n"
        "job 9 succeeded in 0.8 s\n");
}

TEST_CASE("failover --wait shows each step change and the summary, exit 0 on success",
          "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"failover", "app1", "--type", "disaster", "--force", "--reason",
                                   "site-a is down", "--idempotency-key", "k1", "--wait"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "job 7: failover_disaster of app1\n"
        "   0.0s  fence  started\n"
        "   0.0s  fence  done  (0.0 s)\n"
        "  11.3s  promote:rbd/app1-web1-root  started\n"
        "  12.4s  promote:rbd/app1-web1-root  done  (1.1 s)\n"
        "  12.4s  start:web1  started\n"
        "  23.5s  start:web1  done  (11.1 s)\n"
        "job 7 succeeded in 23.5 s\n");
  const auto requests = agent.requests();
  REQUIRE(requests.size() == 6);  // the POST and five polls
  CHECK(requests[0] == "POST /v1/apps/app1/failover");
  CHECK(requests[5] == "GET /v1/jobs/7");
  CHECK(agent.bodies()[0] == json{{"type", "disaster"},
                                  {"force", true},
                                  {"reason", "site-a is down"},
                                  {"idempotencyKey", "k1"}});
}

TEST_CASE("reprotect --wait follows the DR agent's job to success (exit 0)", "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"reprotect", "app1", "--reason", "site-a is back", "--wait"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("job 11: reprotect of app1\n"));
  CHECK_THAT(r.out, Catch::Contains("reverse-production  done"));
  CHECK_THAT(r.out, Catch::EndsWith("job 11 succeeded in 42.1 s\n"));
  CHECK(agent.requests()[0] == "POST /v1/apps/app1/reprotect");
  CHECK(agent.bodies()[0] == json{{"reason", "site-a is back"}});
}

TEST_CASE("failback refused: exit 1 with the agent's reason; no app: exit 2",
          "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"failback", "app1", "--wait"});
  CHECK(r.exit_code == 1);
  CHECK(r.err == "drpair: failed_precondition: app 'app1' is failed_over: reprotect it first\n");
  CHECK(drpair_at(agent, {"failback"}).exit_code == 2);
  CHECK(drpair_at(agent, {"reprotect"}).exit_code == 2);
}

TEST_CASE("failover --wait exits 1 and names the error when the job fails", "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"failover", "app2", "--type", "planned", "--wait"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("   3.2s  promote:rbd/app2-db-root  failed  (2.2 s)  "
                                    "unavailable: rbd/app2-db-root: promote: timed out\n"));
  CHECK_THAT(r.out, Catch::EndsWith("job 8 failed in 3.2 s: unavailable: rbd/app2-db-root: "
                                    "promote: timed out\n"));
  CHECK(agent.bodies()[0] == json{{"type", "planned"}, {"force", false}});
}

TEST_CASE("a repeated idempotency key reports the existing job", "[integration][cli]") {
  FakeAgent agent;
  REQUIRE(drpair_at(agent, {"failover", "app1", "--type", "disaster", "--idempotency-key", "k"})
              .exit_code == 0);
  const auto r =
      drpair_at(agent, {"failover", "app1", "--type", "disaster", "--idempotency-key", "k"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("job 7: failover_disaster of app1, pending (an existing "
                                      "job: same idempotency key, or already running)\n"));
}

TEST_CASE("unprotect --wait exits 1 when the job is cancelled", "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"unprotect", "app1", "--wait"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::EndsWith("job 10 cancelled in 2.0 s\n"));
  CHECK(agent.requests()[0] == "DELETE /v1/apps/app1/protection");
}

TEST_CASE("protect --wait --json prints progress on stderr and the finished job on stdout",
          "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"protect", "app1", "--mode", "first", "--wait", "--json"});
  CHECK(r.exit_code == 0);
  CHECK(json::parse(r.out) == scripted_jobs()[9].back());
  CHECK_THAT(r.err, Catch::EndsWith("job 9 succeeded in 0.8 s\n"));
}

TEST_CASE("snapshot prints the snapshots taken", "[integration][cli]") {
  FakeAgent agent;
  const auto r = drpair_at(agent, {"snapshot", "app1"});
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "IMAGE               SNAP  TAKEN\n"
        "rbd/app1-web1-root  12    " +
            at(1) +
            "\n"
            "rbd/app1-db-root    13    " +
            at(1) + "\n");
  CHECK(agent.requests() == std::vector<std::string>{"POST /v1/apps/app1/snapshots"});
}

TEST_CASE("jobs lists jobs, filtered by app", "[integration][cli]") {
  FakeAgent agent;
  const auto all = drpair_at(agent, {"jobs"});
  CHECK(all.exit_code == 0);
  CHECK_THAT(all.out, Catch::StartsWith("ID  APP   TYPE               STATE      STEP"));
  CHECK_THAT(all.out, Catch::Contains("\n8   app2  failover_planned   failed     "
                                      "promote:rbd/app2-db-root  "));
  const auto some = drpair_at(agent, {"jobs", "--app", "app 2", "--json"});
  CHECK(some.exit_code == 0);
  CHECK(json::parse(some.out)["jobs"].empty());
  CHECK(agent.requests().back() == "GET /v1/jobs?app=app%202");
}

TEST_CASE("audit prints who asked for what, newest first", "[integration][cli]") {
  FakeAgent agent;
  const auto trail = drpair_at(agent, {"audit", "--limit", "20"});
  CHECK(trail.exit_code == 0);
  CHECK_THAT(trail.out, Catch::StartsWith("AT "));
  CHECK_THAT(trail.out, Catch::Contains("viewer:dash   POST /v1/apps/app1/failover  403     -    needs the role operator"));
  CHECK_THAT(trail.out, Catch::Contains("needs the role operator"));
  CHECK_THAT(trail.out, Catch::Contains("operator:ops  POST /v1/apps/app1/failover  202     7    -"));
  CHECK(agent.requests().back() == "GET /v1/audit?limit=20");
  CHECK(drpair_at(agent, {"audit", "--limit", "0"}).exit_code == 2);
}

TEST_CASE("jobs ID shows the job's steps, and with --follow follows it", "[integration][cli]") {
  FakeAgent agent;
  const auto shown = drpair_at(agent, {"jobs", "8"});
  CHECK(shown.exit_code == 0);
  CHECK_THAT(shown.out, Catch::Contains("state     running\n"));
  CHECK_THAT(shown.out, Catch::Contains("1    demote_peer  intent_recorded  1         -"));

  const auto followed = drpair_at(agent, {"jobs", "8", "--follow"});
  CHECK(followed.exit_code == 1);
  CHECK_THAT(followed.out, Catch::StartsWith("job 8: failover_planned of app2\n"
                                             "   1.0s  demote_peer  done  (1.0 s)\n"));
  CHECK_THAT(followed.out, Catch::EndsWith("job 8 failed in 3.2 s: unavailable: "
                                           "rbd/app2-db-root: promote: timed out\n"));

  const auto missing = drpair_at(agent, {"jobs", "99"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == "drpair: not_found: job 99 not found\n");
}

TEST_CASE("jobs refuses a bad id and --follow without one (exit 2)", "[integration][cli]") {
  FakeAgent agent;
  CHECK(drpair_at(agent, {"jobs", "seven"}).exit_code == 2);
  CHECK(drpair_at(agent, {"jobs", "--follow"}).exit_code == 2);
  CHECK(drpair_at(agent, {"jobs", "7", "--app", "app1"}).exit_code == 2);
  CHECK(agent.requests().empty());
}

TEST_CASE("on a terminal --wait redraws the step list in place", "[integration][cli]") {
  FakeAgent agent;
  // script(1) gives drpair a pseudo-terminal for its stdout.
  std::string command = "/usr/bin/env -i";
  for (const auto& [name, value] : tls_env()) command += " " + name + "=" + value;
  command += " DRPAIR_PRODUCTION_URL=" + agent.url() + " " + DRPAIR_BIN +
             " protect app1 --mode first --wait; echo rc=$?";
  const auto r = run_process({"/usr/bin/script", "-qec", command, "/dev/null"});
  INFO(r.out << r.err);
  CHECK_THAT(r.out, Catch::Contains("\x1b[2F\x1b[J"));  // up over the last frame, clear
  CHECK_THAT(r.out, Catch::Contains("done     capture  0.8 s"));
  CHECK_THAT(r.out, Catch::Contains("job 9 succeeded in 0.8 s"));
  CHECK_THAT(r.out, Catch::Contains("rc=0"));
}

TEST_CASE("connection settings default from the environment", "[integration][cli]") {
  FakeAgent agent;
  FakeAgent other;
  SECTION("DRPAIR_URL") {
    Env env = tls_env();
    env["DRPAIR_URL"] = agent.url();
    env["DRPAIR_DR_URL"] = other.url();
    CHECK(drpair({"apps"}, env).exit_code == 0);
    CHECK(agent.requests().size() == 1);
    CHECK(other.requests().empty());
  }
  SECTION("--url wins over DRPAIR_URL") {
    Env env = tls_env();
    env["DRPAIR_URL"] = other.url();
    CHECK(drpair({"apps", "--url", agent.url()}, env).exit_code == 0);
    CHECK(agent.requests().size() == 1);
    CHECK(other.requests().empty());
  }
  SECTION("protect, unprotect and snapshot use DRPAIR_PRODUCTION_URL; the others DRPAIR_DR_URL") {
    Env env = tls_env();
    env["DRPAIR_PRODUCTION_URL"] = agent.url();
    env["DRPAIR_DR_URL"] = other.url();
    CHECK(drpair({"protect", "app1", "--mode", "first"}, env).exit_code == 0);
    CHECK(drpair({"unprotect", "app1"}, env).exit_code == 0);
    CHECK(drpair({"snapshot", "app1"}, env).exit_code == 0);
    CHECK(agent.requests().size() == 3);
    CHECK(drpair({"apps"}, env).exit_code == 0);
    CHECK(drpair({"status", "app1"}, env).exit_code == 0);
    CHECK(drpair({"failover", "app1", "--type", "planned"}, env).exit_code == 0);
    CHECK(drpair({"jobs"}, env).exit_code == 0);
    CHECK(other.requests().size() == 4);
    CHECK(agent.requests().size() == 3);
  }
  SECTION("a bearer token from DRPAIR_TOKEN makes a dashboard certificate an operator") {
    const auto& pki = TestPki::get();
    Env env{{"DRPAIR_URL", agent.url()},
            {"DRPAIR_CACERT", pki.file("site-b/ca.crt")},
            {"DRPAIR_CERT", pki.file("operator/dashboard.crt")},
            {"DRPAIR_KEY", pki.file("operator/dashboard.key")}};
    const auto anonymous = drpair({"apps"}, env);
    CHECK(anonymous.exit_code == 1);
    CHECK_THAT(anonymous.err, Catch::StartsWith("drpair: permission_denied: "));
    env["DRPAIR_TOKEN"] = kToken;
    CHECK(drpair({"apps"}, env).exit_code == 0);
    const auto wrong = drpair({"apps", "--token", "not-the-token"}, env);
    CHECK(wrong.exit_code == 1);
    CHECK_THAT(wrong.err, Catch::StartsWith("drpair: unauthenticated: "));
  }
}

TEST_CASE("an unreachable agent exits 1 and names the URL", "[integration][cli]") {
  std::string url;
  {
    FakeAgent gone;
    url = gone.url();
    gone.stop();
  }
  Env env = tls_env();
  env["DRPAIR_DR_URL"] = url;
  const auto r = drpair({"apps"}, env);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::StartsWith("drpair: unavailable: cannot reach the agent at " + url));
}

TEST_CASE("no agent URL is a usage error (exit 2)", "[integration][cli]") {
  const auto r = drpair({"apps"}, tls_env());
  CHECK(r.exit_code == 2);
  CHECK(r.err ==
        "drpair: no agent URL: set --url, DRPAIR_URL or DRPAIR_DR_URL (https://HOST:PORT)\n");
  const auto p = drpair({"snapshot", "app1"}, tls_env());
  CHECK(p.exit_code == 2);
  CHECK_THAT(p.err, Catch::Contains("DRPAIR_PRODUCTION_URL"));
  CHECK(drpair({"apps", "--url", "http://127.0.0.1:1"}, tls_env()).exit_code == 2);
  CHECK(drpair({"apps", "--url", "https://127.0.0.1:99999"}, tls_env()).exit_code == 2);
}

TEST_CASE("an unreadable TLS file is a usage error (exit 2) naming the file",
          "[integration][cli]") {
  FakeAgent agent;
  Env env = tls_env();
  env["DRPAIR_URL"] = agent.url();
  const auto cert = drpair({"apps", "--cert", "/nonexistent/ops.crt"}, env);
  CHECK(cert.exit_code == 2);
  CHECK_THAT(cert.err, Catch::Contains("'/nonexistent/ops.crt' (from --cert)"));
  env["DRPAIR_CACERT"] = "/nonexistent/ca.crt";
  const auto ca = drpair({"apps"}, env);
  CHECK(ca.exit_code == 2);
  CHECK_THAT(ca.err, Catch::Contains("'/nonexistent/ca.crt' (from DRPAIR_CACERT)"));
  env.erase("DRPAIR_CACERT");
  const auto none = drpair({"apps"}, env);
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, Catch::Contains("set --cacert or DRPAIR_CACERT"));
  CHECK(agent.requests().empty());
}

}  // namespace
}  // namespace dr::cli
