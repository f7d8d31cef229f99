#pragma once
// The peer agent's reachability as this agent last saw it (GET /healthz, drpair_peer_up), fed by
// every call through a TrackedPeerClient. Thread-safety: PeerTracker is atomic.

#include <atomic>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "state/state_store.hpp"
#include "transport/peer_client.hpp"

namespace dr::service {

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

}  // namespace dr::service
