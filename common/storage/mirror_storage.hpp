#pragma once
// MirrorStorage: one site's Ceph cluster as drpair needs it — RBD images, their mirror pairs with
// the peer site, the roles (primary / non-primary) of those images and how far behind the
// non-primary copies are. It speaks in pools, images, peers and mirror snapshots, never in librbd
// calls, so the workflows above it are written once and tested against the real two-cluster pair
// (deploy/ceph-pair.sh), with fakes at this level for fault injection.
//
// Replication is RBD snapshot-based mirroring (journal mode is accepted as an option): the primary
// image takes *mirror snapshots*; the peer site's rbd-mirror daemon copies each one into the
// non-primary image, which then holds a non-primary mirror snapshot naming the primary's snapshot
// id (`primary_snap_id`). That non-primary snapshot being `complete` is the only reliable sign
// that data arrived: `rbd mirror image status` lags by seconds and is sometimes stale.
//
// Errors (dr::Errc), each message naming the pool/image and the operation, quoting librbd:
//   not_found            no such pool, image or peer
//   already_exists       an image of that name exists
//   invalid_argument     the request is malformed (bad token, a mode the image cannot take)
//   failed_precondition  the image or pool is in the wrong state: mirroring disabled on the pool,
//                        promote of an image that is primary, a snapshot of a non-primary image,
//                        a planned promote before the peer's demotion arrived
//   unavailable          the cluster does not answer (timeouts from the site's client conf)
//   deadline_exceeded    a bounded wait ran out
//   permission_denied    the client's caps do not allow the call
//   internal             anything else librbd reported
//
// Ownership: an implementation owns its cluster connection and releases it when destroyed; every
// call opens and closes the pool and image handles it needs, so nothing else outlives a call.
// Thread-safety: every method may be called from several threads at once (the cluster handle is
// thread-safe, pool and image handles are per call); calls block, so agents make them from a
// blocking pool. Waits take an absolute deadline and poll; they never sleep unboundedly.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace dr::storage {

using SystemTime = std::chrono::system_clock::time_point;
using Deadline = std::chrono::steady_clock::time_point;

// A pool spec as Ceph's rbd tool writes one: "POOL", or "POOL/NAMESPACE" for an RBD namespace
// of the pool. Wherever MirrorStorage takes a `pool`, it takes a pool spec. Per namespace: its
// images and its mirror mode. Per pool (a namespace's calls go to its pool): the peers, the
// bootstrap tokens and the mirror uuid, which names the site in the mirror snapshots of every
// image of the pool, those in namespaces too (docs/platform-notes.md, "RBD namespaces").
struct PoolSpec {
  std::string pool;
  std::string rbd_namespace;  // "": the pool's default namespace
  bool operator==(const PoolSpec&) const = default;
};
// "a" -> {a, ""}; "a/b" -> {a, b}. Names hold no '/' (model/json_io.hpp checks them), so a
// further slash stays in the namespace and makes the calls fail with not_found.
inline PoolSpec parse_pool_spec(std::string_view spec) {
  const auto slash = spec.find('/');
  if (slash == std::string_view::npos) return {std::string(spec), ""};
  return {std::string(spec.substr(0, slash)), std::string(spec.substr(slash + 1))};
}
inline std::string to_string(const PoolSpec& spec) {
  return spec.rbd_namespace.empty() ? spec.pool : spec.pool + "/" + spec.rbd_namespace;
}

// An RBD image at one site: its pool spec and name. Local and remote images of a pair usually
// share both, but nothing here assumes so.
struct ImageSpec {
  std::string pool;  // a pool spec: "POOL" or "POOL/NAMESPACE"
  std::string image;
  bool operator==(const ImageSpec&) const = default;
};
// "POOL/IMAGE" or "POOL/NAMESPACE/IMAGE", as rbd and libvirt write an image.
inline std::string to_string(const ImageSpec& spec) { return spec.pool + "/" + spec.image; }
// The inverse of to_string: nullopt unless `text` is 2 or 3 non-empty names split by '/'.
inline std::optional<ImageSpec> parse_image_spec(std::string_view text) {
  const auto last = text.rfind('/');
  if (last == std::string_view::npos || last == 0 || last + 1 == text.size()) return std::nullopt;
  const auto pool = text.substr(0, last);
  const auto first = pool.find('/');
  if (first != std::string_view::npos &&
      (first == 0 || first + 1 == pool.size() || pool.find('/', first + 1) != pool.npos)) {
    return std::nullopt;
  }
  return ImageSpec{std::string(pool), std::string(text.substr(last + 1))};
}

enum class MirrorMode { snapshot, journal };
enum class PeerDirection { rx_only, rx_tx };

// A peer bootstrap token (base64 JSON with the peer's mon hosts and a cephx key): a secret, to be
// carried only over the agents' mTLS channel and never logged.
struct BootstrapToken {
  std::string secret;
};

struct PeerSite {
  std::string uuid;         // this site's id for the peer (remove_peer takes it)
  std::string site_name;    // the peer's site name
  std::string mirror_uuid;  // the peer pool's mirror uuid, once its rbd-mirror has reported
  std::string client_name;  // the cephx user this site's rbd-mirror uses at the peer
  PeerDirection direction = PeerDirection::rx_tx;
  bool operator==(const PeerSite&) const = default;
};

// The role an image has in its mirror pair, as this site sees it.
enum class ImageRole { not_mirrored, primary, non_primary };

struct ImageMirrorInfo {
  ImageRole role = ImageRole::not_mirrored;
  MirrorMode mode = MirrorMode::snapshot;
  std::string global_id;   // the same at both sites: identifies the pair
  bool disabling = false;  // mirroring is being disabled
  bool operator==(const ImageMirrorInfo&) const = default;
};

enum class MirrorSnapshotState { primary, primary_demoted, non_primary, non_primary_demoted };

// A mirror snapshot named across sites: the pool mirror uuid of the site that took it and its id
// there. Snapshot ids are per cluster and small, so both clusters hand out the same numbers; the
// uuid is what keeps "snapshot 5 of site-a" apart from "snapshot 5 of site-b".
struct MirrorSnapshotRef {
  std::string source_mirror_uuid;
  std::uint64_t snap_id = 0;
  bool operator==(const MirrorSnapshotRef&) const = default;
};

struct MirrorSnapshot {
  std::uint64_t id = 0;  // at this site
  MirrorSnapshotState state = MirrorSnapshotState::primary;
  bool complete = false;
  std::string primary_mirror_uuid;    // non-primary snapshots: the site that took the original
  std::uint64_t primary_snap_id = 0;  // non-primary snapshots: its id there
  std::vector<std::string> peer_uuids;
  SystemTime created;

  bool is_primary() const noexcept {
    return state == MirrorSnapshotState::primary || state == MirrorSnapshotState::primary_demoted;
  }
  bool is_demotion() const noexcept {
    return state == MirrorSnapshotState::primary_demoted ||
           state == MirrorSnapshotState::non_primary_demoted;
  }
  // True if this (non-primary) snapshot is the copy of `ref`.
  bool copies(const MirrorSnapshotRef& ref) const noexcept {
    return !is_primary() && primary_mirror_uuid == ref.source_mirror_uuid &&
           primary_snap_id == ref.snap_id;
  }
};

// One site's side of a mirror pair, as observed: what a role change (role_change.hpp) decides
// from, and what the production agent answers its peer about one image (api/peer_api.hpp).
struct PairSide {
  ImageRole role = ImageRole::not_mirrored;
  std::string mirror_uuid;                // the pool's mirror uuid at this site
  std::vector<MirrorSnapshot> snapshots;  // oldest first
};

enum class ReplayState {
  unknown,
  error,
  syncing,
  starting_replay,
  replaying,
  stopping_replay,
  stopped
};

// What one site's rbd-mirror last reported for the image (reports lag by seconds).
struct SiteReplayStatus {
  std::string mirror_uuid;  // empty: this site's own daemon
  std::string site_name;    // "" for this site, else the peer's name when known
  ReplayState state = ReplayState::unknown;
  std::string description;  // rbd-mirror's words, e.g. "replaying, {...}", "split-brain"
  SystemTime last_update;
  bool up = false;  // that site's rbd-mirror is running
};

struct ImageMirrorStatus {
  ImageSpec image;
  ImageMirrorInfo info;
  std::vector<SiteReplayStatus> sites;
  // The primary-side time of the newest snapshot the non-primary site reported as synced
  // ("remote_snapshot_timestamp" in its description), if it reported one.
  std::optional<SystemTime> last_sync;

  // The non-primary side's rbd-mirror is up and replaying.
  bool up_and_replaying() const noexcept {
    for (const auto& s : sites)
      if (s.up && s.state == ReplayState::replaying) return true;
    return false;
  }
  // Some site's rbd-mirror reported a split brain for this image.
  bool split_brain() const noexcept {
    for (const auto& s : sites)
      if (s.description.find("split-brain") != std::string::npos) return true;
    return false;
  }
};

// How far behind a non-primary image is: the newest mirror snapshot complete here.
struct ReplicationLag {
  std::optional<MirrorSnapshotRef> newest_synced;  // nullopt: nothing synced yet
  // When that snapshot's copy was created here, which is when rbd-mirror began copying it: the
  // primary took it at most the replayer's reaction time earlier (0.5-1.2 s measured, ~25 s just
  // after a role change), so `age` slightly understates the true RPO in those moments.
  std::optional<SystemTime> synced_as_of;
  std::chrono::milliseconds age{0};
};

enum class Promotion {
  planned,  // the peer demoted: refuse unless its demotion snapshot is complete here
  forced    // the peer is lost: take the primary role regardless (split brain is then possible)
};

// A pool of the cluster and the space left for it (the cluster's free bytes divided by the pool's
// replica count).
struct PoolSpace {
  std::string name;
  std::uint64_t available_bytes = 0;
  bool operator==(const PoolSpace&) const = default;
};

class MirrorStorage {
 public:
  virtual ~MirrorStorage() = default;

  // ---- the cluster
  // Every pool of the cluster, by name (what a DR site can place replicas in).
  virtual Result<std::vector<PoolSpace>> list_pools() = 0;

  // ---- the site and its peers (per pool)
  // This site's name as peers see it (stored in the cluster).
  virtual Status set_site_name(const std::string& name) = 0;
  virtual Result<std::string> site_name() = 0;
  // Image-mode mirroring on the pool (each image is enabled on its own). Idempotent. For a
  // namespace: creates the namespace if it is absent, and REQUIRES the pool's mirroring enabled
  // (failed_precondition otherwise); rbd-mirror replicates a namespace only into the namespace
  // of the same name at the peer, mirror-enabled there too.
  virtual Status enable_pool_mirroring(const std::string& pool) = 0;
  // REQUIRES: no image of the pool is mirrored. Idempotent.
  virtual Status disable_pool_mirroring(const std::string& pool) = 0;
  // The pool's mirror uuid: what peers see as this site's `primary_mirror_uuid`.
  virtual Result<std::string> mirror_uuid(const std::string& pool) = 0;
  // A token that lets the peer site's rbd-mirror and agent reach this site's pool.
  // REQUIRES: pool mirroring enabled (failed_precondition otherwise).
  virtual Result<BootstrapToken> create_bootstrap_token(const std::string& pool) = 0;
  // Adds the site that made `token` as a peer of this pool. Importing the same token again is
  // harmless. The local rbd-mirror notices a new peer only on its periodic refresh
  // (rbd_mirror_pool_replayers_refresh_interval, 30 s by default).
  virtual Status import_bootstrap_token(const std::string& pool, const BootstrapToken& token,
                                        PeerDirection direction) = 0;
  virtual Result<std::vector<PeerSite>> list_peers(const std::string& pool) = 0;
  virtual Status remove_peer(const std::string& pool, const std::string& peer_uuid) = 0;

  // ---- images (tests and the lab create and fill them; agents only read sizes and checksums)
  virtual Status create_image(const ImageSpec& image, std::uint64_t size_bytes) = 0;
  // Removes the image; a mirrored primary takes its non-primary copy with it (rbd-mirror
  // deletes that). not_found if absent.
  virtual Status remove_image(const ImageSpec& image) = 0;
  virtual Result<bool> image_exists(const ImageSpec& image) = 0;
  virtual Result<std::uint64_t> image_size(const ImageSpec& image) = 0;
  // failed_precondition on a non-primary image (read-only replica).
  virtual Status write(const ImageSpec& image, std::uint64_t offset,
                       std::span<const std::byte> data) = 0;
  // A 64-bit hash of the whole contents as 16 hex digits (equal contents, equal checksums).
  virtual Result<std::string> checksum(const ImageSpec& image) = 0;

  // Copies image `source` as it is now (its HEAD, not a snapshot) into `target`, a new image of
  // the same size and object size that is not mirrored, reading only what the source has
  // allocated (whole objects) and writing only what is not zeros (in 64 KiB pieces), so a thin
  // image copies what was written. For drills (workflow/drill.hpp): a non-primary source is read while rbd-mirror may
  // be writing into it, so the copy equals its newest mirror snapshot only if that snapshot was
  // complete before the copy began and is still the newest after it ended; the caller checks
  // (docs/platform-notes.md, "A writable copy of a DR image"). Returns the bytes written.
  // already_exists if `target` exists; aborted when `stop` is requested between chunks. A copy
  // that fails removes its target; one cut off by a crash leaves it, partial, for the caller.
  virtual Result<std::uint64_t> copy_image(const ImageSpec& source, const ImageSpec& target,
                                           std::stop_token stop) = 0;

  // ---- mirror pairs
  // Enables mirroring of the image as the primary of a new pair. Idempotent for the same mode;
  // failed_precondition if the pool's mirroring is disabled or the image mirrors in the other
  // mode. Journal mode turns on the image's journaling feature first.
  virtual Status enable_mirroring(const ImageSpec& image, MirrorMode mode) = 0;
  // Ends the pair at this site. A non-primary copy needs `force`. Idempotent.
  virtual Status disable_mirroring(const ImageSpec& image, bool force) = 0;
  virtual Result<ImageMirrorInfo> mirror_info(const ImageSpec& image) = 0;
  virtual Result<ImageMirrorStatus> mirror_status(const ImageSpec& image) = 0;
  // The image's mirror snapshots, oldest first.
  virtual Result<std::vector<MirrorSnapshot>> mirror_snapshots(const ImageSpec& image) = 0;
  // Takes a mirror snapshot now (snapshot mode). failed_precondition unless primary.
  virtual Result<MirrorSnapshotRef> create_mirror_snapshot(const ImageSpec& image) = 0;
  // Waits until this site's (non-primary) image holds a complete copy of `snapshot`.
  // deadline_exceeded when the deadline passes first.
  virtual Status wait_for_snapshot(const ImageSpec& image, const MirrorSnapshotRef& snapshot,
                                   Deadline deadline) = 0;

  // ---- roles
  // Gives up the primary role; returns the demotion snapshot the peer must receive before it may
  // promote. failed_precondition unless primary.
  virtual Result<MirrorSnapshotRef> demote(const ImageSpec& image) = 0;
  // Takes the primary role. failed_precondition if already primary, and for a planned promote
  // unless the newest mirror snapshot here is a complete copy of the peer's demotion (librbd
  // itself can let a planned promote through too early, which ends in a split brain), or this
  // site was itself the last primary (its own demotion is its newest snapshot: re-promoting it
  // loses nothing).
  virtual Status promote(const ImageSpec& image, Promotion kind) = 0;
  // Throws away this site's copy and copies the image again from the peer's primary: the way out
  // of a split brain. failed_precondition unless non-primary.
  virtual Status resync(const ImageSpec& image) = 0;
  // At a non-primary image: the newest mirror snapshot complete here and its age.
  virtual Result<ReplicationLag> replication_lag(const ImageSpec& image) = 0;
};

inline const char* to_string(MirrorMode mode) noexcept {
  return mode == MirrorMode::snapshot ? "snapshot" : "journal";
}
inline const char* to_string(ImageRole role) noexcept {
  switch (role) {
    case ImageRole::not_mirrored:
      return "not_mirrored";
    case ImageRole::primary:
      return "primary";
    case ImageRole::non_primary:
      return "non_primary";
  }
  return "not_mirrored";
}
inline const char* to_string(MirrorSnapshotState state) noexcept {
  switch (state) {
    case MirrorSnapshotState::primary:
      return "primary";
    case MirrorSnapshotState::primary_demoted:
      return "primary_demoted";
    case MirrorSnapshotState::non_primary:
      return "non_primary";
    case MirrorSnapshotState::non_primary_demoted:
      return "non_primary_demoted";
  }
  return "primary";
}
inline const char* to_string(ReplayState state) noexcept {
  switch (state) {
    case ReplayState::unknown:
      return "unknown";
    case ReplayState::error:
      return "error";
    case ReplayState::syncing:
      return "syncing";
    case ReplayState::starting_replay:
      return "starting_replay";
    case ReplayState::replaying:
      return "replaying";
    case ReplayState::stopping_replay:
      return "stopping_replay";
    case ReplayState::stopped:
      return "stopped";
  }
  return "unknown";
}

}  // namespace dr::storage
