#include "workflow/peer_end.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/time_text.hpp"
#include "workflow/steps.hpp"

namespace dr::workflow {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

Result<storage::PairSide> PeerEnd::observe(const storage::ImageSpec& image) {
  auto end = peer_.image(app_id_, image);
  if (!end) return end.error();
  return std::move(end->side);
}

Result<storage::MirrorSnapshotRef> PeerEnd::create_mirror_snapshot(const storage::ImageSpec& image) {
  auto taken = peer_.snapshot(app_id_, image);
  if (!taken) return taken.error();
  return taken->snapshot;
}

Status PeerEnd::wait_for_snapshot(const storage::ImageSpec& image,
                                  const storage::MirrorSnapshotRef& ref,
                                  storage::Deadline deadline) {
  auto waited = poll_until(
      [&]() -> Result<std::optional<json>> {
        auto side = observe(image);
        // Not there yet: rbd-mirror is creating the copy (a new or resynced image).
        if (!side && side.error().code == Errc::not_found) return std::optional<json>();
        if (!side) return side.error();
        for (const auto& s : side->snapshots) {
          if (s.copies(ref) && s.complete) return std::optional<json>(json::object());
        }
        return std::optional<json>();
      },
      deadline - Clock::now(), poll_, stop_,
      "rbd image '" + storage::to_string(image) + "' at the production site: snapshot " +
          std::to_string(ref.snap_id) + " complete");
  if (!waited) return waited.error();
  return {};
}

Result<storage::MirrorSnapshotRef> PeerEnd::demote(const storage::ImageSpec& image) {
  auto demoted = peer_.demote(app_id_, image);
  if (!demoted) return demoted.error();
  return demoted->snapshot;
}

Status PeerEnd::promote(const storage::ImageSpec& image, storage::Promotion kind) {
  if (kind != storage::Promotion::planned) {
    return fail(Errc::internal, "a role change asked the production site for a forced promote");
  }
  auto promoted = peer_.promote(app_id_, image);
  if (!promoted) return promoted.error();
  return {};
}

Status PeerEnd::resync(const storage::ImageSpec& image) {
  auto resynced = peer_.resync(app_id_, image);
  if (!resynced) return resynced.error();
  return {};
}

json to_json(const storage::RoleChangeReport& report) {
  json steps = json::array();
  for (const auto& [step, took] : report.steps) {
    steps.push_back({{"step", storage::to_string(step)}, {"ms", took.count()}});
  }
  return {{"steps", std::move(steps)}, {"recoveredStall", report.recovered_stall}};
}

namespace {

json time_or_null(const std::optional<storage::SystemTime>& t) {
  if (!t) return nullptr;
  return format_time(*t);
}

}  // namespace

json to_json(const storage::ReprotectReport& report) {
  json steps = json::array();
  for (const auto& [step, took] : report.steps) {
    steps.push_back({{"step", step}, {"ms", took.count()}});
  }
  json out{{"steps", std::move(steps)}, {"resynced", report.resynced}, {"ms", report.total.count()}};
  if (report.discarded) {
    const auto& d = *report.discarded;
    out["discarded"] = {{"lastReplicatedAt", time_or_null(d.last_replicated_at)},
                        {"unreplicatedSnapshots", d.unreplicated_snapshots},
                        {"newestUnreplicatedAt", time_or_null(d.newest_unreplicated_at)},
                        {"demotedAt", time_or_null(d.demoted_at)}};
  }
  return out;
}

}  // namespace dr::workflow
