#pragma once
// A closed-loop HTTPS load generator for the benchmarks: N client threads, one BeastPeerClient
// (one kept-alive mutual-TLS connection) each, calling as fast as answers come back for a fixed
// time, with every request's latency kept for percentiles. Timings are printed, never asserted.

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "transport/peer_client.hpp"
#include "transport/beast_peer_client.hpp"

namespace dr::bench {

struct Figures {
  std::string name;
  std::size_t requests = 0;  // answered with a 2xx status
  std::size_t errors = 0;    // failed calls and non-2xx answers
  double seconds = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double rps() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
};

struct Load {
  std::string name;
  int clients = 1;
  double seconds = 5;
  bool reconnect = false;  // a new connection (TCP + TLS handshake) for every request
  // The request client `c` sends (the same one every time).
  std::function<transport::ClientRequest(int c)> request;
};

// Every client connects and makes one untimed call before the clock starts (unless `reconnect`),
// so keep-alive figures are the steady state, not N handshakes.
Figures run(const Load& load, const transport::ClientOptions& options);

// Figures of `samples` latencies (ms) measured one after another by one client.
Figures of_samples(std::string name, std::vector<double> samples, std::size_t errors);

// A table: scenario, requests, errors, req/s, p50, p99, max.
void print(const std::vector<Figures>& figures);

}  // namespace dr::bench
