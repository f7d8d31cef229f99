#pragma once
// What both agents share at run time (docs/architecture.md, "Shape"): the Runtime (the site's
// connections opened from the AgentConfig, the peer channels with their reachability), the
// operator routes that read the state store (apps' descriptions, jobs), the metrics both export,
// and the Service interface an agent implements: its routes, its loops, its job executor.
// run_agent (service/run_agent.hpp) opens the real adapters and runs a Service; tests make a
// Runtime of their own.
//
// Thread-safety: Runtime's members are thread-safe objects (store, hypervisor, storage, peer
// clients each are); PeerTracker is atomic.

#include <functional>
#include <memory>
#include <stop_token>
#include <string_view>

#include "config/agent_config.hpp"
#include "jobs/jobs.hpp"
#include "metrics/prometheus.hpp"
#include "service/peer_tracker.hpp"
#include "service/rest_shapes.hpp"
#include "state/state_store.hpp"
#include "storage/mirror_storage.hpp"
#include "transport/peer_client.hpp"
#include "transport/router.hpp"
#include "virt/hypervisor.hpp"

namespace dr::service {

struct Runtime {
  config::AgentConfig config;
  std::unique_ptr<state::StateStore> store;
  std::shared_ptr<virt::Hypervisor> hypervisor;
  virt::HypervisorFactory workers;  // connections for parallel VM starts
  std::unique_ptr<storage::MirrorStorage> storage;
  PeerTracker peer_tracker;
  std::unique_ptr<transport::PeerClient> peer;        // timeout: peer.timeoutSeconds
  std::unique_ptr<transport::PeerClient> peer_fence;  // timeout: failover.fenceTimeoutSeconds
  std::function<void(std::string_view)> log;          // one line to stderr, timestamped
};

// Operator routes both agents serve from the store: descriptions, jobs and the audit trail.
void add_store_routes(transport::Router& router, Runtime& runtime);

// Metrics both agents export: drpair_up, app states and generations, image lag and last sync,
// job counts and step durations, peer reachability.
void add_common_metrics(metrics::Exposition& out, Runtime& runtime);

class Service {
 public:
  virtual ~Service() = default;
  virtual void add_routes(transport::Router& router) = 0;
  // Background work; runs on its own thread until `stop` is requested. Returns early if the
  // agent has none.
  virtual void run_loops(std::stop_token stop) = 0;
  // The job executor, so run_agent can resume jobs at start and stop them at exit.
  virtual jobs::JobExecutor& executor() = 0;
  // The agent's own metrics, after the common ones.
  virtual void add_metrics(metrics::Exposition& out) = 0;
};

// The agent's whole API: the service's routes, the store routes (add_store_routes), GET /healthz
// and GET /metrics (common metrics, then the service's). `runtime` and `service` must outlive it.
std::shared_ptr<transport::Router> make_router(Runtime& runtime, Service& service);

}  // namespace dr::service
