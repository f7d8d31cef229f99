// bench_transport: requests per second and latency percentiles of GET /v1/apps/{app}, a fixed
// JSON document, served by HttpServer and called by BeastPeerClient over mutual TLS on 127.0.0.1.
//
//   bench_transport [--clients 50] [--seconds 5] [--io-threads 1] [--handler-threads 2]
//
// Scenarios, all in one run on the same server so they compare:
//   keep-alive xN   N concurrent clients (one thread and one kept-alive connection each;
//                   connected before the clock starts)
//   keep-alive x1   one client: the single-connection baseline
//   reconnect x1    one client opening a new connection (TCP + TLS handshake) for every request
//   curl new conn   curl (an outside client, as an operator's tooling) on a new connection per
//                   request, 30 runs: curl's own time_total, without its process start. This is
//                   where Nagle's algorithm cost ~40 ms per connection before TCP_NODELAY.
// Makes its own throwaway PKI (deploy/pki/make-pki.sh in a temporary folder).

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "flags.hpp"
#include "http_load.hpp"
#include "support/test_pki.hpp"
#include "transport/http_server.hpp"

using namespace dr::transport;

namespace {

// curl's time_total for `runs` requests, each on a new connection; empty if curl is missing.
std::vector<double> curl_new_connections(const dr::testing::TestPki& pki, std::uint16_t port,
                                         int runs) {
  const std::string command =
      "curl -s -o /dev/null -w '%{time_total}\\n' --cacert " + pki.file("site-b/ca.crt") +
      " --cert " + pki.file("site-a/agent.crt") + " --key " + pki.file("site-a/agent.key") +
      " https://127.0.0.1:" + std::to_string(port) + "/v1/apps/app1 2>/dev/null";
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return {};
    double seconds = 0;
    const bool read = std::fscanf(pipe, "%lf", &seconds) == 1;
    if (pclose(pipe) != 0 || !read) return {};
    ms.push_back(seconds * 1000);
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  int clients = 50;
  double seconds = 5;
  int io_threads = 1;
  int handler_threads = 2;
  dr::bench::read_flags(argc, argv,
                        {{"--clients", &clients},
                         {"--seconds", &seconds},
                         {"--io-threads", &io_threads},
                         {"--handler-threads", &handler_threads}});

  const dr::testing::TestPki* made = nullptr;
  try {
    made = &dr::testing::TestPki::get();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_transport: %s\n", e.what());
    return 1;
  }
  const auto& pki = *made;

  // The document a GET /v1/apps/{app} might return: about 1 KiB of JSON.
  nlohmann::json app = {{"apiVersion", "drpair/v1"},
                        {"kind", "ProtectedApp"},
                        {"state", "protected"},
                        {"generation", 3},
                        {"vms", nlohmann::json::array()}};
  for (int i = 0; i < 6; ++i) {
    app["vms"].push_back({{"name", "app1-vm" + std::to_string(i)},
                          {"state", "replicating"},
                          {"lagSeconds", 12},
                          {"images", {"rbd/app1-vm" + std::to_string(i)}}});
  }
  auto router = std::make_shared<Router>();
  router->add(Method::get, "/v1/apps/{app}", kPeerOrOperator, [app](const Request& r) {
    auto doc = app;
    doc["id"] = r.param("app");
    return Response::json(200, doc);
  });

  ServerOptions options;
  options.tls = {pki.file("site-b/agent.crt"), pki.file("site-b/agent.key"),
                 pki.file("site-a/ca.crt"), pki.file("operator/ca.crt")};
  options.auth.peer_site = "site-a";
  options.io_threads = io_threads;
  options.handler_threads = handler_threads;
  auto server = HttpServer::start(options, router);
  if (!server) {
    std::fprintf(stderr, "server: %s\n", server.error().message.c_str());
    return 1;
  }

  ClientOptions client;
  client.port = (*server)->port();
  client.tls = {pki.file("site-a/agent.crt"), pki.file("site-a/agent.key"),
                pki.file("site-b/ca.crt")};
  client.expected_site = "site-b";

  auto app_of = [](int c) {
    ClientRequest r;
    r.target = "/v1/apps/app" + std::to_string(c);
    return r;
  };
  std::vector<dr::bench::Figures> results;
  results.push_back(dr::bench::run(
      {"keep-alive x" + std::to_string(clients), clients, seconds, false, app_of}, client));
  results.push_back(dr::bench::run({"keep-alive x1", 1, seconds, false, app_of}, client));
  results.push_back(dr::bench::run({"reconnect x1", 1, seconds, true, app_of}, client));
  const auto curl = curl_new_connections(pki, (*server)->port(), 30);
  (*server)->stop();

  std::printf("GET /v1/apps/{app}, mutual TLS on 127.0.0.1, %u cores, server io=%d handler=%d\n",
              std::thread::hardware_concurrency(), io_threads, handler_threads);
  dr::bench::print(results);
  const auto& many = results[0];
  const auto& one = results[1];
  const auto& fresh = results[2];
  if (one.rps() > 0 && fresh.rps() > 0) {
    std::printf("ratios: x%d/x1 throughput %.2f, p99 %.2f; keep-alive/reconnect throughput %.1f\n",
                clients, many.rps() / one.rps(), one.p99_ms > 0 ? many.p99_ms / one.p99_ms : 0,
                one.rps() / fresh.rps());
  }
  if (!curl.empty() && one.p50_ms > 0) {
    const double p50 = curl[curl.size() / 2];
    double sum = 0;
    int stalls = 0;  // the delayed-ACK wait shows as 40 ms or more
    for (double ms : curl) {
      sum += ms;
      stalls += ms >= 40;
    }
    const double mean = sum / static_cast<double>(curl.size());
    std::printf("curl new conn: %zu requests, p50 %.1f ms, mean %.1f ms, max %.1f ms, %d at 40 ms "
                "or more; curl-new/keep-alive mean/p50 %.1f\n",
                curl.size(), p50, mean, curl.back(), stalls, mean / one.p50_ms);
  } else {
    std::printf("curl new conn: not measured (no curl, or it failed)\n");
  }
  std::size_t errors = 0;
  for (const auto& f : results) errors += f.errors;
  return errors == 0 && many.requests > 0 ? 0 : 1;
}
