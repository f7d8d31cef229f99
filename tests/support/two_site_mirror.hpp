#pragma once
// TwoSiteMirror: an in-memory, deterministic model of two Ceph clusters that mirror RBD images in
// snapshot mode, each site seen through dr::storage::MirrorStorage. It is for workflow tests and
// fault sweeps: cut a workflow at any call (before or after the call takes effect), resume it, and
// look at both sites. It keeps the rules measured on the real pair (docs/platform-notes.md, "Ceph
// RBD mirroring"); the scenarios of mirror_scenarios.hpp run against the model and against the
// real pair alike, which is what holds the model to those rules.
//
// rbd-mirror without threads or sleeps: each site's daemon has an image replayer per image that
// pulls the peer's primary mirror snapshots into the local non-primary image. The replayers run
// when the model *replays*: replay(), every wait_for_snapshot, and tick(), which models
// rbd-mirror's periodic image-state check (30 s by default): a replayer stopped by a role change
// or a failed start begins again only there. Time is a manual clock owned by the model; it moves
// only by tick(), advance() and waits (a wait that needs a tick lets model time pass up to its
// deadline: never real time). A wait that cannot succeed returns deadline_exceeded at once.
//
// The rules it keeps (docs/platform-notes.md; the .cpp cites them where they are kept):
//  - planned promote: failed_precondition while this site's newest mirror snapshot is a copy of
//    the peer's primary (librbd's EBUSY text) or an incomplete copy of its demotion; allowed with
//    a complete copy of the peer's demotion, or with this site's own demotion newest. Like
//    librbd, it looks only at this site's snapshots.
//  - demote stops the image's replayer until the next check: the new primary's first snapshot
//    reaches the old primary only after a tick.
//  - the failback stall: a replayer whose image's newest snapshot is its own demotion, with the
//    peer not primary, stops ("remote image is not primary") and stays stopped on every check,
//    resync or not, until the peer is primary again.
//  - forced promote needs no peer; with the peer primary both are primary, neither copies, and
//    both report "local image is primary" (as the real pair does: no "split-brain" there). A
//    demoted side whose history the primary's does not continue reports "split-brain".
//  - a copy under way writes into the non-primary image (its HEAD is torn until the copy
//    completes), so a drill's copy of HEAD is only right between copies.
//  - a non-primary image refuses writes and snapshots, but reads; resync makes the running
//    replayer copy the primary again on the next replay (a stopped one: from its next start).
//  - pruning as seen on the pair: a copy keeps only its newest complete copy, a primary drops its
//    snapshots older than the one the peer just synced, and no image keeps more than
//    max_mirror_snapshots; a forced promote over a copy leaves only its own snapshot.
//
// RBD namespaces ("POOL/NAMESPACE" pool specs) as measured on the pair: a namespace mirrors through
// its pool's peers and is named by its pool's mirror uuid, and its images replicate only into the
// namespace of the same name, mirror-enabled at the peer; list_pools lists pools only.
//
// What is not modelled: journal-mode replication (a journal-mode pair keeps its roles and modes,
// nothing is copied), image resizing, pool creation by clients (pools are given at construction or
// by add_pool), snapshot copies that take time (a copy is made complete by the replay that starts
// it, except with begin_copies()).
//
// Ownership: the model owns both sites; site() returns references valid for the model's life.
// Thread-safety: every method of the model and of its sites may be called from several threads
// at once; one mutex guards the whole model, and no call waits for anything but that mutex.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "storage/mirror_storage.hpp"

namespace dr::testing {

// The MirrorStorage calls, for the call log and fault injection.
enum class MirrorOp {
  list_pools,
  set_site_name,
  site_name,
  enable_pool_mirroring,
  disable_pool_mirroring,
  mirror_uuid,
  create_bootstrap_token,
  import_bootstrap_token,
  list_peers,
  remove_peer,
  create_image,
  remove_image,
  image_exists,
  image_size,
  write,
  checksum,
  copy_image,
  enable_mirroring,
  disable_mirroring,
  mirror_info,
  mirror_status,
  mirror_snapshots,
  create_mirror_snapshot,
  wait_for_snapshot,
  demote,
  promote,
  resync,
  replication_lag,
};
const char* to_string(MirrorOp op) noexcept;

// One call as the model saw it. `target` is "pool/image" for image calls, the pool for pool
// calls, "" for cluster calls (list_pools, site names).
struct MirrorCall {
  std::string site;
  MirrorOp op = MirrorOp::list_pools;
  std::string target;
  bool operator==(const MirrorCall&) const = default;
};

struct TwoSiteMirrorOptions {
  std::string site_a = "site-a";
  std::string site_b = "site-b";
  std::vector<std::string> pools{"rbd"};  // at both sites, mirroring disabled, not peered
  std::uint64_t pool_available_bytes = 1ull << 40;
  // rbd_mirror_image_state_check_interval (Ceph's default; ceph-pair.sh uses 5 s).
  std::chrono::seconds tick_interval{30};
  // rbd_mirroring_max_mirroring_snapshots: mirror snapshots an image keeps (Ceph's default).
  std::size_t max_mirror_snapshots = 5;
  storage::SystemTime start{std::chrono::seconds(1'800'000'000)};
  // Waits run the periodic check when their deadline leaves room for it (model time passes, up
  // to the deadline), as a real wait would see it happen. false: waits only replay.
  bool waits_run_ticks = true;
};

class TwoSiteMirror {
 public:
  explicit TwoSiteMirror(TwoSiteMirrorOptions options = {});
  ~TwoSiteMirror();
  TwoSiteMirror(const TwoSiteMirror&) = delete;
  TwoSiteMirror& operator=(const TwoSiteMirror&) = delete;

  // A site by the name given at construction; std::invalid_argument for another name.
  storage::MirrorStorage& site(std::string_view name);
  storage::MirrorStorage& site_a();
  storage::MirrorStorage& site_b();

  // ---- the world around the clusters
  // A site that is down answers every call with `unavailable`; its rbd-mirror neither copies
  // from nor to it. It comes back with its data.
  void set_up(std::string_view site, bool up);
  bool is_up(std::string_view site) const;
  // The images primary at both sites while both are up (a split brain), read in one moment.
  std::vector<storage::ImageSpec> primary_at_both() const;
  // A new pool at `site` (mirroring disabled). Idempotent.
  void add_pool(std::string_view site, const std::string& pool);

  // ---- rbd-mirror
  // Runs every image replayer until nothing more can be copied now.
  void replay();
  // Starts the next copy of every running replayer (its non-primary snapshot exists, incomplete)
  // and finishes none: the moment in which a planned promote must still be refused.
  void begin_copies();
  // Moves the clock to the next image-state check and runs it (stopped replayers try to start
  // again), then replays.
  void tick();
  // Moves the clock, running the checks that fall due on the way.
  void advance(std::chrono::milliseconds duration);
  storage::SystemTime now() const;

  // ---- the call log
  std::vector<MirrorCall> calls() const;
  // Calls matching site and op (and target, unless empty) so far.
  std::size_t count(std::string_view site, MirrorOp op, std::string_view target = {}) const;
  void clear_calls();

  // ---- faults
  // Fails the next call of `op` at `site` (on `target`, or on any target if empty) with `code`:
  // before it takes effect (nothing changes), or after it took effect (the change happened, the
  // caller still gets the error, as when a client dies right after the cluster answered).
  // Faults queue up; each fires once.
  void fail_next(std::string_view site, MirrorOp op, std::string target, Errc code,
                 bool after_effect);
  // Fails the n-th call from now (1-based) at either site, whatever it is: a fault sweep's knife.
  void fail_nth_call(std::size_t n, Errc code, bool after_effect);
  // Faults not fired yet.
  std::size_t pending_faults() const;

  class Model;  // the shared state, defined in two_site_mirror.cpp

 private:
  std::unique_ptr<Model> model_;
};

}  // namespace dr::testing
