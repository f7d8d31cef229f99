#pragma once
// The production site's end of a mirror pair, as the DR agent's jobs drive it through the peer
// API (workflow/handover.hpp answers there): a storage::RoleChangeEnd, so the one role-change
// machine and the reprotect of storage/role_change.hpp run over it unchanged. Used by the planned
// failover (workflow/failover.hpp), reprotect and failback (workflow/failback.hpp).
//
// Ownership: borrows the peer; it must outlive the end. Thread-safety: as the peer (one end per
// image and thread is how the jobs use it).

#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "api/peer_api.hpp"
#include "core/result.hpp"
#include "storage/role_change.hpp"

namespace dr::workflow {

class PeerEnd final : public storage::RoleChangeEnd {
 public:
  // `stop`: a wait gives up (aborted) when it is requested; `poll`: how often a wait asks.
  PeerEnd(api::ProductionPeer& peer, std::string app_id, std::stop_token stop,
          std::chrono::milliseconds poll)
      : peer_(peer), app_id_(std::move(app_id)), stop_(std::move(stop)), poll_(poll) {}

  Result<storage::PairSide> observe(const storage::ImageSpec& image) override;
  Result<storage::MirrorSnapshotRef> create_mirror_snapshot(
      const storage::ImageSpec& image) override;
  // Polls the production site's image every `poll`; an image not there yet is waited for.
  Status wait_for_snapshot(const storage::ImageSpec& image, const storage::MirrorSnapshotRef& ref,
                           storage::Deadline deadline) override;
  Result<storage::MirrorSnapshotRef> demote(const storage::ImageSpec& image) override;
  // Planned only: the production site never takes a forced promote from its peer (internal).
  Status promote(const storage::ImageSpec& image, storage::Promotion kind) override;
  Status resync(const storage::ImageSpec& image) override;

 private:
  api::ProductionPeer& peer_;
  std::string app_id_;
  std::stop_token stop_;
  std::chrono::milliseconds poll_;
};

// A role change's or reprotect's report as a job step's detail.
nlohmann::json to_json(const storage::RoleChangeReport& report);
nlohmann::json to_json(const storage::ReprotectReport& report);

}  // namespace dr::workflow
