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
// Makes its own throwaway PKI with deploy/pki/make-pki.sh in a temporary folder.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "transport/beast_peer_client.hpp"
#include "transport/http_server.hpp"

namespace {

using namespace dr::transport;
using Clock = std::chrono::steady_clock;

struct Figures {
  std::string name;
  std::size_t requests = 0;
  std::size_t errors = 0;
  double seconds = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double rps() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
};

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

Figures run(const std::string& name, int clients, double seconds, bool reconnect,
            const ClientOptions& options) {
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
  std::vector<std::size_t> errors(static_cast<std::size_t>(clients), 0);
  // Every client connects and makes one untimed call first, so the keep-alive figures measure
  // the steady state and not the N handshakes of the start.
  std::latch connected(clients + 1);
  Clock::time_point start;
  Clock::time_point deadline;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto client = BeastPeerClient::create(options);
      if (!client) std::abort();
      const std::string target = "/v1/apps/app" + std::to_string(c);
      auto& mine = latencies[static_cast<std::size_t>(c)];
      if (!reconnect && !(*client)->get(target)) ++errors[static_cast<std::size_t>(c)];
      connected.arrive_and_wait();
      while (Clock::now() < deadline) {
        if (reconnect) client = BeastPeerClient::create(options);
        const auto t0 = Clock::now();
        const auto r = (*client)->get(target);
        const auto t1 = Clock::now();
        if (!r || r->body.empty()) {
          ++errors[static_cast<std::size_t>(c)];
          continue;
        }
        mine.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
    });
  }
  start = Clock::now();
  deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  connected.arrive_and_wait();  // publishes start and deadline to the clients
  for (auto& t : threads) t.join();
  Figures f;
  f.name = name;
  f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  for (auto e : errors) f.errors += e;
  std::sort(all.begin(), all.end());
  f.requests = all.size();
  f.p50_ms = percentile(all, 0.50);
  f.p99_ms = percentile(all, 0.99);
  f.max_ms = all.empty() ? 0 : all.back();
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int clients = 50;
  double seconds = 5;
  int io_threads = 1;
  int handler_threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--clients")
      clients = std::atoi(argv[i + 1]);
    else if (flag == "--seconds")
      seconds = std::atof(argv[i + 1]);
    else if (flag == "--io-threads")
      io_threads = std::atoi(argv[i + 1]);
    else if (flag == "--handler-threads")
      handler_threads = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr,
                   "usage: %s [--clients N] [--seconds S] [--io-threads N] "
                   "[--handler-threads N]\n",
                   argv[0]);
      return 2;
    }
  }

  std::string dir = (std::filesystem::temp_directory_path() / "drpair-bench-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) return 1;
  const std::string make =
      std::string(DR_SOURCE_DIR) + "/deploy/pki/make-pki.sh " + dir + " >/dev/null";
  if (std::system(make.c_str()) != 0) {
    std::fprintf(stderr, "make-pki.sh failed\n");
    return 1;
  }

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
  options.tls = {dir + "/site-b/agent.crt", dir + "/site-b/agent.key", dir + "/site-a/ca.crt",
                 dir + "/operator/ca.crt"};
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
  client.tls = {dir + "/site-a/agent.crt", dir + "/site-a/agent.key", dir + "/site-b/ca.crt"};
  client.expected_site = "site-b";

  std::vector<Figures> results;
  results.push_back(run("keep-alive x" + std::to_string(clients), clients, seconds, false, client));
  results.push_back(run("keep-alive x1", 1, seconds, false, client));
  results.push_back(run("reconnect x1", 1, seconds, true, client));
  (*server)->stop();
  std::filesystem::remove_all(dir);

  std::printf("GET /v1/apps/{app}, mutual TLS on 127.0.0.1, %u cores, server io=%d handler=%d\n",
              std::thread::hardware_concurrency(), io_threads, handler_threads);
  std::printf("%-16s %10s %8s %10s %9s %9s %9s\n", "scenario", "requests", "errors", "req/s",
              "p50 ms", "p99 ms", "max ms");
  for (const auto& f : results) {
    std::printf("%-16s %10zu %8zu %10.0f %9.2f %9.2f %9.2f\n", f.name.c_str(), f.requests, f.errors,
                f.rps(), f.p50_ms, f.p99_ms, f.max_ms);
  }
  const auto& many = results[0];
  const auto& one = results[1];
  const auto& fresh = results[2];
  if (one.rps() > 0 && fresh.rps() > 0) {
    std::printf("ratios: x%d/x1 throughput %.2f, p99 %.2f; keep-alive/reconnect throughput %.1f\n",
                clients, many.rps() / one.rps(), one.p99_ms > 0 ? many.p99_ms / one.p99_ms : 0,
                one.rps() / fresh.rps());
  }
  std::size_t errors = 0;
  for (const auto& f : results) errors += f.errors;
  return errors == 0 && many.requests > 0 ? 0 : 1;
}
