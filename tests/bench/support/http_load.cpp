#include "http_load.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <thread>

namespace dr::bench {
namespace {

using Clock = std::chrono::steady_clock;

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

bool answered(const Result<transport::Response>& r) {
  return r && r->status >= 200 && r->status < 300;
}

}  // namespace

Figures of_samples(std::string name, std::vector<double> samples, std::size_t errors) {
  Figures f;
  f.name = std::move(name);
  f.errors = errors;
  for (double ms : samples) f.seconds += ms / 1000.0;
  std::sort(samples.begin(), samples.end());
  f.requests = samples.size();
  f.p50_ms = percentile(samples, 0.50);
  f.p99_ms = percentile(samples, 0.99);
  f.max_ms = samples.empty() ? 0 : samples.back();
  return f;
}

Figures run(const Load& load, const transport::ClientOptions& options) {
  const auto n = static_cast<std::size_t>(load.clients);
  std::vector<std::vector<double>> latencies(n);
  std::vector<std::size_t> errors(n, 0);
  std::latch connected(load.clients + 1);
  Clock::time_point deadline;
  std::vector<std::thread> threads;
  for (std::size_t c = 0; c < n; ++c) {
    threads.emplace_back([&, c] {
      auto client = transport::BeastPeerClient::create(options);
      if (!client) {
        std::fprintf(stderr, "client: %s\n", client.error().message.c_str());
        std::abort();
      }
      const auto request = load.request(static_cast<int>(c));
      if (!load.reconnect && !answered((*client)->call(request))) ++errors[c];
      connected.arrive_and_wait();
      while (Clock::now() < deadline) {
        if (load.reconnect) client = transport::BeastPeerClient::create(options);
        const auto t0 = Clock::now();
        const auto r = (*client)->call(request);
        const auto t1 = Clock::now();
        if (!answered(r)) {
          ++errors[c];
          continue;
        }
        latencies[c].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
    });
  }
  const auto start = Clock::now();
  deadline = start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(load.seconds));
  connected.arrive_and_wait();  // publishes the deadline to the clients
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::size_t failed = 0;
  for (auto e : errors) failed += e;
  Figures f = of_samples(load.name, std::move(all), failed);
  f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return f;
}

void print(const std::vector<Figures>& figures) {
  std::printf("%-34s %9s %7s %9s %9s %9s %9s\n", "scenario", "requests", "errors", "req/s",
              "p50 ms", "p99 ms", "max ms");
  for (const auto& f : figures) {
    std::printf("%-34s %9zu %7zu %9.0f %9.2f %9.2f %9.2f\n", f.name.c_str(), f.requests, f.errors,
                f.rps(), f.p50_ms, f.p99_ms, f.max_ms);
  }
}

}  // namespace dr::bench
