// agents_bench: the DR agent's REST API under load (README "Benchmarks"), in one process
// (tests/support/in_process_agent.hpp: the agent's own routes over mutual TLS on 127.0.0.1, a
// SQLite state file, the libvirt test driver as the DR site, one Ceph pool: the handlers measured
// ask Ceph for nothing else). Every figure has a baseline served by the same server, over the same
// TLS, to the same clients, in the same run:
//
//   GET /v1/apps/{app}, N kept-alive operator clients (default 50):
//     app1 (6 VMs)      the real detail handler: app record, its second description parsed for
//                       the name and VM count, mirror pairs, recent jobs
//     big0 (1,000 VMs)  the same handler on a 1,000-VM app (2,000 mirror pairs)
//     baseline          GET /bench/static: app1's answer, prepared once
//   ship a 1,000-VM first description, one peer client, a new app each time (median of --ships):
//     PUT /v1/peer/apps/{app} mode first: read, DR inventory from libvirt, mapping, validation,
//                       both descriptions and 2,000 mirror pairs stored
//     baseline          PUT /bench/parse: the same body, parsed and read as a FirstDescription
//
//   agents_bench [--seconds 5] [--clients 50] [--ships 10] [--vms 1000]
//
// Exit status 1 if any request failed (figures are printed either way, never asserted).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "flags.hpp"
#include "http_load.hpp"
#include "model/json_io.hpp"
#include "support/in_process_agent.hpp"
#include "support/test_pki.hpp"
#include "support/temp_dir.hpp"
#include "synthetic_app.hpp"

namespace {

using namespace dr;
using nlohmann::json;
using transport::ClientRequest;
using transport::Method;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "agents_bench: %s\n", what.c_str());
  std::exit(1);
}

json registration(int vms, const std::string& app) {
  return {{"mode", "first"},
          {"description", json::parse(bench::first_description_text(vms, app))}};
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// One PUT of a new `vms`-VM app to `route`<app>: its latency in ms, or nullopt (reported).
std::optional<double> ship(transport::PeerClient& peer, const std::string& route,
                           const std::string& app, int vms) {
  const auto body = registration(vms, app);
  const auto start = Clock::now();
  const auto r = peer.put_json(route + app, body);
  const double ms = ms_since(start);
  if (!r || r->status != 200) {
    std::fprintf(stderr, "PUT %s%s: %s\n", route.c_str(), app.c_str(),
                 r ? r->body.substr(0, 400).c_str() : r.error().message.c_str());
    return std::nullopt;
  }
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int clients = 50, ships = 10, vms = 1000, handler_threads = 4;
  bench::read_flags(argc, argv,
                    {{"--seconds", &seconds}, {"--clients", &clients}, {"--ships", &ships},
                     {"--vms", &vms}});

  const testing::TempDir work;
  std::string app1_detail;  // the static baseline's body, set before the load starts
  testing::InProcessAgentOptions options;
  options.work_dir = work.path();
  options.handler_threads = handler_threads;
  options.extra_routes = [&app1_detail](transport::Router& router) {
    router.add(Method::put, "/bench/parse/{app}", transport::kPeerOnly,
               [](const transport::Request& r) {
                 auto first = model::read_first_description(r.json.value("description", json()));
                 if (!first) return transport::Response::json(400, {{"problems", "unreadable"}});
                 return transport::Response::json(200, {{"app", first->app.id}});
               });
    router.add(Method::get, "/bench/static", transport::kOperatorOnly,
               [&app1_detail](const transport::Request&) {
                 transport::Response r;
                 r.body = app1_detail;
                 return r;
               });
  };
  std::optional<testing::InProcessAgent> agent;
  try {
    options.pki_dir = testing::TestPki::get().file("");
    agent.emplace(options);
  } catch (const std::exception& e) {
    die(e.what());
  }
  const auto as_peer = agent->client("site-a/agent");
  const auto as_operator = agent->client("operator/ops");
  auto peer = transport::BeastPeerClient::create(as_peer);
  if (!peer) die("client: " + peer.error().message);

  // Ship first (the GETs read what it registered). The baseline and the real route alternate
  // app by app, so a busy machine's drift hits both alike.
  std::vector<double> parse_ms, register_ms;
  std::size_t errors = 0;
  for (int i = 0; i < ships; ++i) {
    const std::string app = "big" + std::to_string(i);
    for (auto [route, samples] : {std::pair{"/bench/parse/", &parse_ms},
                                  std::pair{"/v1/peer/apps/", &register_ms}}) {
      if (auto ms = ship(**peer, route, app, vms)) {
        samples->push_back(*ms);
      } else {
        ++errors;
      }
    }
  }
  if (!ship(**peer, "/v1/peer/apps/", "app1", 6)) ++errors;

  // The static baseline answers exactly what app1's detail answers now.
  auto op = transport::BeastPeerClient::create(as_operator);
  if (!op) die("client: " + op.error().message);
  auto detail = (*op)->get("/v1/apps/app1");
  if (!detail || detail->status != 200) die("GET /v1/apps/app1 failed");
  app1_detail = detail->body;

  auto get = [](std::string target) {
    return [target](int) {
      ClientRequest r;
      r.target = target;
      return r;
    };
  };
  const std::string x = " x" + std::to_string(clients);
  std::vector<bench::Figures> gets;
  gets.push_back(bench::run({"GET /bench/static" + x, clients, seconds, false,
                             get("/bench/static")}, as_operator));
  gets.push_back(bench::run({"GET /v1/apps/app1 (6 VMs)" + x, clients, seconds, false,
                             get("/v1/apps/app1")}, as_operator));
  gets.push_back(bench::run({"GET /v1/apps/big0 (" + std::to_string(vms) + " VMs)" + x, clients,
                             seconds, false, get("/v1/apps/big0")}, as_operator));
  const auto parse = bench::of_samples("PUT /bench/parse (" + std::to_string(vms) + " VMs)",
                                       parse_ms, 0);
  const auto reg = bench::of_samples("PUT /v1/peer/apps (" + std::to_string(vms) + " VMs)",
                                     register_ms, 0);

  agent.reset();

  std::printf("DR agent in process, mutual TLS on 127.0.0.1, %u cores, %d handler threads\n",
              std::thread::hardware_concurrency(), handler_threads);
  std::printf("first description of %d VMs: %zu bytes of JSON\n", vms,
              bench::first_description_text(vms).size());
  bench::print(gets);
  bench::print({parse, reg});
  const auto& base = gets[0];
  if (base.rps() > 0 && gets[1].rps() > 0 && gets[2].rps() > 0) {
    std::printf("ratios vs static: app1 throughput %.2f, p99 %.2f; big0 throughput %.2f, p99 %.2f\n",
                gets[1].rps() / base.rps(), gets[1].p99_ms / base.p99_ms,
                gets[2].rps() / base.rps(), gets[2].p99_ms / base.p99_ms);
  }
  if (parse.p50_ms > 0) {
    std::printf("ship %d VMs: median %.1f ms = %.2f x the parse-only PUT (median %.1f ms)\n", vms,
                reg.p50_ms, reg.p50_ms / parse.p50_ms, parse.p50_ms);
  }
  for (const auto& f : gets) errors += f.errors;
  return errors == 0 ? 0 : 1;
}
