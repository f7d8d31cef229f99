#pragma once
// Multi-step role changes of one mirror pair, written over two ends (no Ceph types), so the same
// code drives the real pair, the in-memory model, and a pair whose other end is the peer agent's
// (the DR agent's planned failover drives the production site's images through the peer API:
// workflow/failover.hpp). This file is the one implementation of the sync-before-demote rule.
//
// Planned role change: `from` (primary) hands the primary role of an image to `to`.
//
// @verbatim
//                 observe (roles and mirror snapshots at both sites)
//                    |
//   from P, to NP    |   both NP, `to` has (a copy of) the   both NP, `from` was    to P, from NP
//        |           |   newest demotion                     primary last but `to`        |
//        v           |        |                              never saw its demotion       |
//   sync_forward <---+--------|----- recover_stall <--------------+                       |
//   (mirror snapshot          |      (promote `from` again:                               |
//    at `from`, wait until    |       the failback-stall fix)                             |
//    complete at `to`)        |                                                           |
//        |                    v                                                           |
//        v               await_demotion --> promote_to --> protect_reverse --> done <-----+
//     demote_from ---------->  (demotion      (planned)      (mirror snapshot at `to`,
//                               snapshot                      wait until complete at `from`)
//                               complete at `to`)
//   to P, from NP: done if `from` already holds a copy of a snapshot of `to`, else protect_reverse
//   both P: failed_precondition (split brain: resync one side first)
// @endverbatim
//
// Why sync_forward before every demote: after a role change, the old primary's image replayer
// restarts only on rbd-mirror's periodic image-state check (30 s by default). Demoting the new
// primary before that replayer has copied one snapshot from it leaves the old primary with its
// own demotion as its newest snapshot while the peer is no longer primary; the replayer then gives
// up on every tick ("remote image is not primary") and neither side can take over by a planned
// promote. Waiting for one fresh snapshot to complete at `to` proves the replayer runs. If an
// image is found in that stalled state (an earlier run cut off, or outside tools),
// recover_stall re-promotes the site that was primary last (nothing is lost: its own demotion is
// its newest snapshot) and the change restarts from sync_forward.
//
// Every step is idempotent and the starting step is derived from what the two sites show, so a
// role change cut off anywhere is finished by calling it again. Waits are bounded by `deadline`.
// Without reverse protection (RoleChangeOptions), a pair found with `to` already primary is done.
//
// Reprotect (after a failover, both sites up): `keep` (the primary, where the app runs now)
// stays primary and `loser` (the old primary) becomes its replica. A loser whose own demotion
// `keep` holds a copy of (a planned failover) only needs one fresh snapshot of `keep`; any other
// loser diverged (a disaster: `keep` was promoted by force, the loser took writes `keep` never
// got) and is resynced, which discards those writes (the report says what was discarded).
//
// @verbatim
//   observe --> already a replica of `keep` (holds a complete copy of its snapshot) --> done
//      |
//      +--> loser primary --> demote_loser --+
//      |                                     v
//      +--> loser diverged -------------> resync_loser (discarded: what the loser took after
//      |                                     |          the newest of its snapshots `keep` holds)
//      +--> loser's demotion at `keep` ------+
//                                            v
//                                       await_copy (snapshot at `keep`, complete at `loser`,
//                                                   retried while a resync recreates the image)
//                                            v
//                                          done
// @endverbatim

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "storage/mirror_storage.hpp"

namespace dr::storage {

enum class RoleChangeStep {
  observe,
  sync_forward,
  demote_from,
  await_demotion,
  promote_to,
  protect_reverse,
  recover_stall,
  done,
};

inline const char* to_string(RoleChangeStep step) noexcept {
  switch (step) {
    case RoleChangeStep::observe:
      return "observe";
    case RoleChangeStep::sync_forward:
      return "sync_forward";
    case RoleChangeStep::demote_from:
      return "demote_from";
    case RoleChangeStep::await_demotion:
      return "await_demotion";
    case RoleChangeStep::promote_to:
      return "promote_to";
    case RoleChangeStep::protect_reverse:
      return "protect_reverse";
    case RoleChangeStep::recover_stall:
      return "recover_stall";
    case RoleChangeStep::done:
      return "done";
  }
  return "observe";
}

struct RoleChangeOptions {
  // Wait for the first snapshot of the new primary to reach the old one (reverse protection).
  // The role change itself is complete without it; the next planned change re-checks anyway.
  bool wait_reverse_protection = true;
};

struct RoleChangeReport {
  std::vector<std::pair<RoleChangeStep, std::chrono::milliseconds>> steps;
  bool recovered_stall = false;
  bool reverse_protected = false;
  std::chrono::milliseconds total{0};
};

namespace detail {

// The site's own newest snapshot, if it is its own demotion.
inline std::optional<MirrorSnapshotRef> own_demotion(const PairSide& side) {
  if (side.snapshots.empty()) return std::nullopt;
  const auto& last = side.snapshots.back();
  if (last.state != MirrorSnapshotState::primary_demoted) return std::nullopt;
  return MirrorSnapshotRef{side.mirror_uuid, last.id};
}

inline const MirrorSnapshot* find_copy(const PairSide& side, const MirrorSnapshotRef& ref) {
  for (const auto& s : side.snapshots)
    if (s.copies(ref)) return &s;
  return nullptr;
}

// True if `to` holds a complete copy of a snapshot `from` took while primary, newer than any
// demotion of `to`: the replayer at `to` has worked since `from` last became primary.
inline bool reverse_synced(const PairSide& from_side, const PairSide& to_side) {
  for (auto it = to_side.snapshots.rbegin(); it != to_side.snapshots.rend(); ++it) {
    if (it->is_primary()) return false;  // its own snapshot is newer than any copy
    if (it->complete && it->primary_mirror_uuid == from_side.mirror_uuid) return true;
  }
  return false;
}

}  // namespace detail

// Where a planned role change from `from` to `to` has to start (or fails, if it cannot go on).
inline Result<RoleChangeStep> first_step(const PairSide& from, const PairSide& to,
                                         const std::string& what) {
  using R = ImageRole;
  if (from.role == R::not_mirrored || to.role == R::not_mirrored)
    return fail(Errc::failed_precondition, what + ": not mirrored at both sites");
  if (from.role == R::primary && to.role == R::primary)
    return fail(Errc::failed_precondition,
                what + ": primary at both sites (split brain): resync one side first");
  if (to.role == R::primary)
    return detail::reverse_synced(to, from) ? RoleChangeStep::done
                                            : RoleChangeStep::protect_reverse;
  if (from.role == R::primary) return RoleChangeStep::sync_forward;

  // Both non-primary: a change cut off after the demotion, or a stalled failback.
  if (const auto d_from = detail::own_demotion(from)) {
    if (detail::find_copy(to, *d_from) != nullptr) return RoleChangeStep::await_demotion;
    // `to` never saw `from`'s last demotion. If `from` holds a copy of `to`'s own demotion,
    // `from` was primary after `to`: its replayer stalled. Otherwise `to` may still be copying.
    if (const auto d_to = detail::own_demotion(to)) {
      const auto* copy = detail::find_copy(from, *d_to);
      if (copy != nullptr && copy->complete) return RoleChangeStep::recover_stall;
    }
    return RoleChangeStep::await_demotion;
  }
  if (const auto d_to = detail::own_demotion(to)) {
    // `to` was primary last and `from` holds (or is copying) its demotion: promote `to` again.
    if (detail::find_copy(from, *d_to) != nullptr) return RoleChangeStep::promote_to;
  }
  return fail(Errc::failed_precondition,
              what +
                  ": non-primary at both sites and neither holds the other's newest demotion; "
                  "an operator must choose the site to promote (forced)");
}

inline Result<PairSide> observe_side(MirrorStorage& site, const ImageSpec& image) {
  auto info = site.mirror_info(image);
  if (!info) return info.error();
  auto uuid = site.mirror_uuid(image.pool);
  if (!uuid) return uuid.error();
  auto snaps = site.mirror_snapshots(image);
  if (!snaps) return snaps.error();
  return PairSide{info->role, std::move(*uuid), std::move(*snaps)};
}

// One end of a pair, as a role change drives it. The calls mean what MirrorStorage's calls of
// the same names mean; observe() is observe_side().
class RoleChangeEnd {
 public:
  virtual ~RoleChangeEnd() = default;
  virtual Result<PairSide> observe(const ImageSpec& image) = 0;
  virtual Result<MirrorSnapshotRef> create_mirror_snapshot(const ImageSpec& image) = 0;
  virtual Status wait_for_snapshot(const ImageSpec& image, const MirrorSnapshotRef& ref,
                                   Deadline deadline) = 0;
  virtual Result<MirrorSnapshotRef> demote(const ImageSpec& image) = 0;
  virtual Status promote(const ImageSpec& image, Promotion kind) = 0;
  virtual Status resync(const ImageSpec& image) = 0;
};

// This site's end: its MirrorStorage (borrowed).
class StorageEnd final : public RoleChangeEnd {
 public:
  explicit StorageEnd(MirrorStorage& storage) : storage_(storage) {}
  Result<PairSide> observe(const ImageSpec& image) override {
    return observe_side(storage_, image);
  }
  Result<MirrorSnapshotRef> create_mirror_snapshot(const ImageSpec& image) override {
    return storage_.create_mirror_snapshot(image);
  }
  Status wait_for_snapshot(const ImageSpec& image, const MirrorSnapshotRef& ref,
                           Deadline deadline) override {
    return storage_.wait_for_snapshot(image, ref, deadline);
  }
  Result<MirrorSnapshotRef> demote(const ImageSpec& image) override {
    return storage_.demote(image);
  }
  Status promote(const ImageSpec& image, Promotion kind) override {
    return storage_.promote(image, kind);
  }
  Status resync(const ImageSpec& image) override { return storage_.resync(image); }

 private:
  MirrorStorage& storage_;
};

// The planned role change (diagram above). REQUIRES: both ends reachable; `image` names the
// image at both (same pool and name at both sites, as drpair's pairs are).
inline Result<RoleChangeReport> planned_role_change(RoleChangeEnd& from, RoleChangeEnd& to,
                                                    const ImageSpec& image, Deadline deadline,
                                                    RoleChangeOptions options = {}) {
  using Clock = std::chrono::steady_clock;
  const auto what = "rbd image '" + to_string(image) + "': planned role change";
  RoleChangeReport report;
  const auto start = Clock::now();
  auto step = RoleChangeStep::observe;
  std::optional<MirrorSnapshotRef> demotion;
  int stall_recoveries = 0;

  while (step != RoleChangeStep::done) {
    const auto t0 = Clock::now();
    auto next = RoleChangeStep::done;
    switch (step) {
      case RoleChangeStep::observe: {
        auto f = from.observe(image);
        if (!f) return f.error();
        auto t = to.observe(image);
        if (!t) return t.error();
        auto first = first_step(*f, *t, what);
        if (!first) return first.error();
        next = *first;
        if (next == RoleChangeStep::await_demotion) demotion = detail::own_demotion(*f);
        if (next == RoleChangeStep::done) report.reverse_protected = true;
        if (next == RoleChangeStep::protect_reverse && !options.wait_reverse_protection) {
          next = RoleChangeStep::done;
        }
        break;
      }
      case RoleChangeStep::sync_forward: {
        auto snap = from.create_mirror_snapshot(image);
        if (!snap) return snap.error();
        if (auto w = to.wait_for_snapshot(image, *snap, deadline); !w) {
          auto e = w.error();
          e.message = what +
                      ": the peer's replayer has not copied a fresh snapshot, so demoting "
                      "now could stall the pair (no step taken): " +
                      e.message;
          return e;
        }
        next = RoleChangeStep::demote_from;
        break;
      }
      case RoleChangeStep::demote_from: {
        auto d = from.demote(image);
        if (!d) return d.error();
        demotion = *d;
        next = RoleChangeStep::await_demotion;
        break;
      }
      case RoleChangeStep::await_demotion: {
        if (!demotion) return fail(Errc::internal, what + ": no demotion snapshot to wait for");
        if (auto w = to.wait_for_snapshot(image, *demotion, deadline); !w) {
          auto e = w.error();
          e.message = what +
                      ": demoted, but the demotion has not reached the peer (both sites "
                      "non-primary; calling again resumes): " +
                      e.message;
          return e;
        }
        next = RoleChangeStep::promote_to;
        break;
      }
      case RoleChangeStep::promote_to: {
        if (auto p = to.promote(image, Promotion::planned); !p) return p.error();
        next = options.wait_reverse_protection ? RoleChangeStep::protect_reverse
                                               : RoleChangeStep::done;
        break;
      }
      case RoleChangeStep::protect_reverse: {
        auto snap = to.create_mirror_snapshot(image);
        if (!snap) return snap.error();
        report.reverse_protected = from.wait_for_snapshot(image, *snap, deadline).has_value();
        next = RoleChangeStep::done;
        break;
      }
      case RoleChangeStep::recover_stall: {
        if (++stall_recoveries > 1)
          return fail(Errc::failed_precondition, what + ": stalled again after a recovery");
        if (auto p = from.promote(image, Promotion::planned); !p) {
          auto e = p.error();
          e.message =
              what + ": stalled failback; re-promoting the last primary failed: " + e.message;
          return e;
        }
        report.recovered_stall = true;
        next = RoleChangeStep::sync_forward;
        break;
      }
      case RoleChangeStep::done:
        break;
    }
    report.steps.emplace_back(
        step, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0));
    step = next;
  }
  report.total = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return report;
}

// Both ends at this process's own storage (tests, tools).
inline Result<RoleChangeReport> planned_role_change(MirrorStorage& from, MirrorStorage& to,
                                                    const ImageSpec& image, Deadline deadline,
                                                    RoleChangeOptions options = {}) {
  StorageEnd from_end(from);
  StorageEnd to_end(to);
  return planned_role_change(from_end, to_end, image, deadline, options);
}

// What a resync threw away at the loser: the mirror snapshots it took that never reached `keep`,
// and when. Writes the loser took after `last_replicated_at` are gone (up to when it went down
// or, at the latest, `demoted_at`).
struct DiscardedWrites {
  std::optional<SystemTime> last_replicated_at;  // its newest snapshot `keep` holds; none: all
  int unreplicated_snapshots = 0;                // its own snapshots after that one
  std::optional<SystemTime> newest_unreplicated_at;
  std::optional<SystemTime> demoted_at;  // its demotion (the fence), if it was demoted
};

struct ReprotectReport {
  std::vector<std::pair<std::string, std::chrono::milliseconds>> steps;
  bool resynced = false;
  std::optional<DiscardedWrites> discarded;  // with resynced
  std::chrono::milliseconds total{0};
};

namespace detail {

// The loser's writes that `keep` never got: its snapshots newer than the newest one `keep` holds
// (or held: `keep_had`) a complete copy of.
inline DiscardedWrites discarded_writes(const PairSide& keep, const PairSide& loser,
                                        const std::optional<MirrorSnapshotRef>& keep_had) {
  std::uint64_t newest_copied = 0;
  if (keep_had && keep_had->source_mirror_uuid == loser.mirror_uuid) {
    newest_copied = keep_had->snap_id;
  }
  for (const auto& s : keep.snapshots) {
    if (!s.is_primary() && s.complete && s.primary_mirror_uuid == loser.mirror_uuid) {
      newest_copied = std::max(newest_copied, s.primary_snap_id);
    }
  }
  DiscardedWrites out;
  for (const auto& s : loser.snapshots) {
    if (!s.is_primary()) continue;
    if (s.id == newest_copied) out.last_replicated_at = s.created;
    if (s.id <= newest_copied) continue;
    if (s.state == MirrorSnapshotState::primary_demoted) {
      out.demoted_at = s.created;
    } else {
      ++out.unreplicated_snapshots;
      out.newest_unreplicated_at = s.created;
    }
  }
  return out;
}

}  // namespace detail

// Reprotect (diagram above). REQUIRES: both ends reachable; the same image name at both.
// `keep_had`: the newest snapshot of the loser `keep` held complete when it was promoted by force
// (a forced promote drops the copies, so only the failover can tell), for the discarded report.
inline Result<ReprotectReport> reprotect_pair(RoleChangeEnd& keep, RoleChangeEnd& loser,
                                              const ImageSpec& image, Deadline deadline,
                                              const std::optional<MirrorSnapshotRef>& keep_had = {}) {
  using Clock = std::chrono::steady_clock;
  const auto what = "rbd image '" + to_string(image) + "': reprotect";
  ReprotectReport report;
  const auto start = Clock::now();
  auto lap = [&, t0 = start](const char* step) mutable {
    const auto now = Clock::now();
    report.steps.emplace_back(step, std::chrono::duration_cast<std::chrono::milliseconds>(now - t0));
    t0 = now;
  };
  auto k = keep.observe(image);
  if (!k) return k.error();
  if (k->role != ImageRole::primary)
    return fail(Errc::failed_precondition,
                what + ": not primary at the site to keep (it must run there first)");
  auto l = loser.observe(image);
  // Not found: a resync asked for before is recreating the image there.
  if (!l && l.error().code != Errc::not_found) return l.error();
  lap("observe");
  if (l) {
    if (l->role == ImageRole::not_mirrored)
      return fail(Errc::failed_precondition, what + ": not mirrored at the returning site");
    if (l->role == ImageRole::non_primary && detail::reverse_synced(*k, *l)) {
      report.total = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      return report;
    }
    if (l->role == ImageRole::primary) {
      if (auto d = loser.demote(image); !d) return d.error();
      lap("demote_loser");
      l = loser.observe(image);
      if (!l) return l.error();
    }
    // Diverged: the loser's newest snapshot is its own and `keep` holds no complete copy of it.
    // (A loser being resynced, or a replica, has a copy of `keep`'s as its newest.)
    const auto* newest = l->snapshots.empty() ? nullptr : &l->snapshots.back();
    const auto* copy =
        newest != nullptr && newest->is_primary()
            ? detail::find_copy(*k, MirrorSnapshotRef{l->mirror_uuid, newest->id})
            : nullptr;
    if (newest != nullptr && newest->is_primary() && (copy == nullptr || !copy->complete)) {
      report.discarded = detail::discarded_writes(*k, *l, keep_had);
      if (auto r = loser.resync(image); !r) return r.error();
      report.resynced = true;
      lap("resync_loser");
    }
  }
  // A resync deletes and recreates the image at the loser: until rbd-mirror has done so, waits
  // fail with not_found; a fresh snapshot per try keeps the check meaningful.
  while (true) {
    auto snap = keep.create_mirror_snapshot(image);
    if (!snap) return snap.error();
    const auto slice = std::min(deadline, Clock::now() + std::chrono::seconds(15));
    auto w = loser.wait_for_snapshot(image, *snap, slice);
    if (w) break;
    if (w.error().code != Errc::not_found && w.error().code != Errc::deadline_exceeded)
      return w.error();
    if (Clock::now() >= deadline) {
      auto e = w.error();
      e.code = Errc::deadline_exceeded;
      e.message = what + ": the returning site's copy did not catch up in time: " + e.message;
      return e;
    }
    if (w.error().code == Errc::not_found) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  lap("await_copy");
  report.total = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return report;
}

// Both ends at this process's own storage (tests, tools): split-brain recovery.
inline Result<ReprotectReport> reprotect_pair(MirrorStorage& keep, MirrorStorage& loser,
                                              const ImageSpec& image, Deadline deadline,
                                              const std::optional<MirrorSnapshotRef>& keep_had = {}) {
  StorageEnd keep_end(keep);
  StorageEnd loser_end(loser);
  return reprotect_pair(keep_end, loser_end, image, deadline, keep_had);
}

}  // namespace dr::storage
