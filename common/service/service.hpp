#pragma once
// What both agents share at run time (docs/architecture.md, "Shape"): the site's connections
// opened from the AgentConfig, the peer channel with its reachability, the job executor, the
// operator routes that read the state store (apps' descriptions, jobs), the JSON shapes of records
// on the REST API (README "REST API", schemas/openapi.yaml), and the process's life: start the
// HTTPS server, resume unfinished jobs, run the agent's background loops, stop cleanly on
// SIGTERM/SIGINT.
//
// An agent (production or DR) is a Service: it adds its routes and its loops; run_agent() does
// the rest. Exit codes of the agent executables: 0 after a clean stop, 2 for a bad config (every
// problem printed with the key at fault), 1 when something the config names cannot be reached
// or used at start (the state file, libvirt, Ceph, the TLS files, the listen address).
//
// Thread-safety: Runtime's members are thread-safe objects (store, hypervisor, storage, peer
// clients each are); PeerTracker is atomic.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "config/agent_config.hpp"
#include "core/result.hpp"
#include "jobs/jobs.hpp"
#include "metrics/prometheus.hpp"
#include "model/descriptions.hpp"
#include "state/state_store.hpp"
#include "storage/mirror_storage.hpp"
#include "transport/peer_client.hpp"
#include "transport/router.hpp"
#include "virt/hypervisor.hpp"

namespace dr::service {

// RFC 3339 UTC with milliseconds: "2026-11-25T10:00:00.123Z".
std::string format_time(state::Timestamp t);
std::string format_time(std::chrono::system_clock::time_point t);
state::Timestamp now();

// When the peer last answered (any HTTP answer counts) and whether the last call reached it.
class PeerTracker {
 public:
  void record(bool reached);
  bool reachable() const noexcept { return reachable_.load(); }
  std::optional<state::Timestamp> last_contact() const noexcept;
  nlohmann::json to_json(const std::string& site) const;  // {"site","reachable","lastContactAt"}

 private:
  std::atomic<bool> reachable_{false};
  std::atomic<std::int64_t> last_contact_ms_{0};
};

// A PeerClient that reports every call to a PeerTracker.
class TrackedPeerClient final : public transport::PeerClient {
 public:
  TrackedPeerClient(std::unique_ptr<transport::PeerClient> inner, PeerTracker& tracker)
      : inner_(std::move(inner)), tracker_(tracker) {}
  Result<transport::Response> call(const transport::ClientRequest& request) override;

 private:
  std::unique_ptr<transport::PeerClient> inner_;
  PeerTracker& tracker_;
};

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

// The app's newest jobs (at most `limit`), without steps, newest first.
nlohmann::json recent_jobs(state::StateStore& store, const std::string& app_id,
                           std::size_t limit = 10);

// ---- REST shapes (README "REST API")
// -------------------------------------------------------------
nlohmann::json error_json(const Error& e);  // {"code","message"}
nlohmann::json job_json(const state::JobRecord& job);
nlohmann::json job_json(const state::JobRecord& job, const std::vector<state::JobStep>& steps);
nlohmann::json pairs_json(const std::vector<state::MirrorPairRecord>& pairs);
// AppDetail without "images" and "peer": the caller adds what its side knows.
nlohmann::json app_json(const state::AppRecord& app, const std::string& name, int vms);

// The answer to a request that started (or found) a job: 202 {"job": Job, "created": bool},
// Location: /v1/jobs/ID.
transport::Response job_accepted(state::StateStore& store, const state::CreatedJob& created);

// Operator routes both agents serve from the store: descriptions and jobs.
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

// main() of both agents: parses `--config FILE`, loads it (expecting `role`), opens the Runtime,
// makes the Service and its router (make_router), serves until SIGTERM/SIGINT.
int run_agent(int argc, char** argv, config::AgentRole role,
              const std::function<std::unique_ptr<Service>(Runtime&)>& make_service);

}  // namespace dr::service
