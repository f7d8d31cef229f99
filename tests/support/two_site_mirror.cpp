#include "support/two_site_mirror.hpp"

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

namespace dr::testing {

namespace {

using namespace std::chrono_literals;
using storage::BootstrapToken;
using storage::ImageMirrorInfo;
using storage::ImageMirrorStatus;
using storage::ImageRole;
using storage::ImageSpec;
using storage::MirrorMode;
using storage::MirrorSnapshot;
using storage::MirrorSnapshotRef;
using storage::MirrorSnapshotState;
using storage::PeerDirection;
using storage::PeerSite;
using storage::PoolSpace;
using storage::Promotion;
using storage::ReplayState;
using storage::ReplicationLag;
using storage::SiteReplayStatus;
using storage::SystemTime;

// ---- image contents: copy-on-write blocks, so a snapshot is a cheap copy of a map

constexpr std::uint64_t kBlockBytes = 64u << 10;
using Block = std::shared_ptr<const std::vector<std::byte>>;

struct Content {
  std::uint64_t size = 0;
  std::map<std::uint64_t, Block> blocks;  // block index -> kBlockBytes; absent blocks are zeros
};

void write_content(Content& content, std::uint64_t offset, std::span<const std::byte> data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const std::uint64_t pos = offset + done;
    const std::uint64_t index = pos / kBlockBytes;
    const std::uint64_t within = pos % kBlockBytes;
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(kBlockBytes - within, data.size() - done));
    const auto old = content.blocks.find(index);
    auto block = old == content.blocks.end()
                     ? std::make_shared<std::vector<std::byte>>(kBlockBytes)
                     : std::make_shared<std::vector<std::byte>>(*old->second);
    std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(done), n,
                block->begin() + static_cast<std::ptrdiff_t>(within));
    content.blocks[index] = std::move(block);
    done += n;
  }
}

// FNV-1a over 64-bit words of every block that is not all zeros, with its index and the size:
// equal contents give equal sums however they were written.
std::string checksum_of(const Content& content) {
  constexpr std::uint64_t kPrime = 0x100000001B3ull;
  std::uint64_t h = 0xCBF29CE484222325ull;
  const auto mix = [&](std::uint64_t word) { h = (h ^ word) * kPrime; };
  mix(content.size);
  for (const auto& [index, block] : content.blocks) {
    if (std::all_of(block->begin(), block->end(), [](std::byte b) { return b == std::byte{0}; }))
      continue;
    mix(index);
    for (std::size_t i = 0; i < block->size(); i += 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, block->data() + i, 8);
      mix(word);
    }
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, h);
  return hex;
}

// ---- the clusters

struct Snap {
  MirrorSnapshot meta;
  Content content;               // the image as of the snapshot (a copy: once complete)
  SystemTime primary_created{};  // copies: when the primary took the snapshot
};

// This site's image replayer for one image (it pulls into the image when it is non-primary).
enum class Replayer {
  idle,           // the image is primary here, or not mirrored: nothing to pull
  replaying,      // copies every new primary snapshot of the peer when the model replays
  awaiting_tick,  // stopped by a role change; starts on the next image-state check
  stopped,        // its last start failed (`error` says why); tried again on every check
};

struct Image {
  Content content;
  bool mirrored = false;
  bool primary = false;
  MirrorMode mode = MirrorMode::snapshot;
  std::string global_id;
  std::vector<Snap> snaps;  // oldest first
  bool resync_requested = false;
  Replayer replayer = Replayer::idle;
  std::string error;  // rbd-mirror's words for a stopped replayer
  SystemTime status_time{};

  ImageRole role() const {
    if (!mirrored) return ImageRole::not_mirrored;
    return primary ? ImageRole::primary : ImageRole::non_primary;
  }
  const Snap* newest() const { return snaps.empty() ? nullptr : &snaps.back(); }
};

struct Peer {
  std::string uuid;
  std::size_t site = 0;
  PeerDirection direction = PeerDirection::rx_tx;
};

struct Pool {
  std::uint64_t available_bytes = 0;
  bool mirroring = false;
  std::string mirror_uuid;
  std::vector<Peer> peers;
  std::map<std::string, Image> images;
  std::uint64_t next_snap_id = 1;  // per pool and cluster: both clusters hand out the same ids
};

struct Site {
  std::string name;
  std::string site_name;
  bool up = true;
  std::map<std::string, Pool> pools;
};

std::string pool_what(const std::string& pool, const char* op) {
  return "rbd pool '" + pool + "': " + op;
}
std::string image_what(const ImageSpec& image, const char* op) {
  return "rbd image '" + to_string(image) + "': " + op;
}
// "snapshot 7: non_primary_demoted, copies <uuid>/5, incomplete"
std::string describe(const MirrorSnapshot& snap) {
  const std::string copied = snap.is_primary() ? std::string()
                                               : ", copies " + snap.primary_mirror_uuid + "/" +
                                                     std::to_string(snap.primary_snap_id);
  return "snapshot " + std::to_string(snap.id) + ": " + to_string(snap.state) + copied +
         (snap.complete ? "" : ", incomplete");
}
std::string ref_text(const MirrorSnapshotRef& ref) {
  return ref.source_mirror_uuid + "/" + std::to_string(ref.snap_id);
}
long long unix_seconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

constexpr const char* kTokenPrefix = "drpair-two-site-mirror-token:";
// librbd's EBUSY for a planned promote while the image is still a replica of a primary.
constexpr const char* kPrimaryElsewhere =
    "image is primary within a remote cluster or demotion is not propagated yet";
constexpr const char* kRemoteNotPrimary = "remote image is not primary";
// rbd-mirror's status for a demoted image whose history the primary's does not continue (its log
// says "split-brain detected: failed to find matching non-primary snapshot").
constexpr const char* kSplitBrain = "split-brain";

}  // namespace

const char* to_string(MirrorOp op) noexcept {
  switch (op) {
    case MirrorOp::list_pools:
      return "list_pools";
    case MirrorOp::set_site_name:
      return "set_site_name";
    case MirrorOp::site_name:
      return "site_name";
    case MirrorOp::enable_pool_mirroring:
      return "enable_pool_mirroring";
    case MirrorOp::disable_pool_mirroring:
      return "disable_pool_mirroring";
    case MirrorOp::mirror_uuid:
      return "mirror_uuid";
    case MirrorOp::create_bootstrap_token:
      return "create_bootstrap_token";
    case MirrorOp::import_bootstrap_token:
      return "import_bootstrap_token";
    case MirrorOp::list_peers:
      return "list_peers";
    case MirrorOp::remove_peer:
      return "remove_peer";
    case MirrorOp::create_image:
      return "create_image";
    case MirrorOp::remove_image:
      return "remove_image";
    case MirrorOp::image_exists:
      return "image_exists";
    case MirrorOp::image_size:
      return "image_size";
    case MirrorOp::write:
      return "write";
    case MirrorOp::checksum:
      return "checksum";
    case MirrorOp::copy_image:
      return "copy_image";
    case MirrorOp::enable_mirroring:
      return "enable_mirroring";
    case MirrorOp::disable_mirroring:
      return "disable_mirroring";
    case MirrorOp::mirror_info:
      return "mirror_info";
    case MirrorOp::mirror_status:
      return "mirror_status";
    case MirrorOp::mirror_snapshots:
      return "mirror_snapshots";
    case MirrorOp::create_mirror_snapshot:
      return "create_mirror_snapshot";
    case MirrorOp::wait_for_snapshot:
      return "wait_for_snapshot";
    case MirrorOp::demote:
      return "demote";
    case MirrorOp::promote:
      return "promote";
    case MirrorOp::resync:
      return "resync";
    case MirrorOp::replication_lag:
      return "replication_lag";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// The shared state of both sites and their rbd-mirror daemons. Every member function but the
// public entry points expects mutex_ to be held.
class TwoSiteMirror::Model {
 public:
  explicit Model(TwoSiteMirrorOptions options)
      : options_(std::move(options)),
        now_(options_.start),
        next_tick_(options_.start + options_.tick_interval) {
    sites_[0].name = options_.site_a;
    sites_[1].name = options_.site_b;
    for (auto& s : sites_) {
      s.site_name = s.name;
      for (const auto& p : options_.pools)
        s.pools[p].available_bytes = options_.pool_available_bytes;
    }
  }

  // The sites as MirrorStorage, set once by TwoSiteMirror's constructor.
  std::array<std::unique_ptr<storage::MirrorStorage>, 2> views;

  std::size_t index_of(std::string_view name) const {
    for (std::size_t i = 0; i < sites_.size(); ++i)
      if (sites_[i].name == name) return i;
    throw std::invalid_argument("TwoSiteMirror: no site named '" + std::string(name) + "'");
  }

  // Every MirrorStorage call goes through here: logged, faults applied, a down site refuses.
  template <class F>
  auto call(std::size_t s, MirrorOp op, std::string target, F&& f) -> decltype(f()) {
    std::lock_guard lock(mutex_);
    ++calls_made_;
    log_.push_back(MirrorCall{sites_[s].name, op, target});
    const auto fault = take_fault(s, op, target);
    const auto injected = [&] {
      return fail(fault->code,
                  sites_[s].name + ": " + to_string(op) + " " + target + ": injected fault (" +
                      (fault->after_effect ? "after" : "before") + " the call took effect)");
    };
    if (fault && !fault->after_effect) return injected();
    if (!sites_[s].up) {
      return fail(Errc::unavailable, "ceph cluster '" + sites_[s].name + "': " + to_string(op) +
                                         (target.empty() ? "" : " " + target) +
                                         ": the cluster does not answer (the site is down)");
    }
    auto result = f();
    if (fault) return injected();
    return result;
  }

  // ---- controls (public entry points take the lock)

  void set_up(std::string_view site, bool up) {
    std::lock_guard lock(mutex_);
    sites_[index_of(site)].up = up;
  }
  bool is_up(std::string_view site) const {
    std::lock_guard lock(mutex_);
    return sites_[index_of(site)].up;
  }
  std::vector<ImageSpec> primary_at_both() const {
    std::lock_guard lock(mutex_);
    std::vector<ImageSpec> out;
    const auto& [a, b] = sites_;
    if (!a.up || !b.up) return out;
    for (const auto& [pool_name, pool] : a.pools) {
      const auto other = b.pools.find(pool_name);
      if (other == b.pools.end()) continue;
      for (const auto& [name, image] : pool.images) {
        const auto peer = other->second.images.find(name);
        if (peer != other->second.images.end() && image.role() == ImageRole::primary &&
            peer->second.role() == ImageRole::primary) {
          out.push_back({pool_name, name});
        }
      }
    }
    return out;
  }
  void add_pool(std::string_view site, const std::string& pool) {
    std::lock_guard lock(mutex_);
    auto& pools = sites_[index_of(site)].pools;
    if (!pools.contains(pool)) pools[pool].available_bytes = options_.pool_available_bytes;
  }
  void replay() {
    std::lock_guard lock(mutex_);
    replay_all();
  }
  void begin_copies() {
    std::lock_guard lock(mutex_);
    replay_pass(false);
  }
  void tick() {
    std::lock_guard lock(mutex_);
    run_tick();
  }
  void advance(std::chrono::milliseconds duration) {
    std::lock_guard lock(mutex_);
    const auto target = now_ + duration;
    while (next_tick_ <= target) run_tick();
    now_ = std::max(now_, target);
  }
  SystemTime now() const {
    std::lock_guard lock(mutex_);
    return now_;
  }
  std::vector<MirrorCall> calls() const {
    std::lock_guard lock(mutex_);
    return log_;
  }
  std::size_t count(std::string_view site, MirrorOp op, std::string_view target) const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count_if(log_.begin(), log_.end(), [&](const auto& c) {
      return c.site == site && c.op == op && (target.empty() || c.target == target);
    }));
  }
  void clear_calls() {
    std::lock_guard lock(mutex_);
    log_.clear();
  }
  void fail_next(std::string_view site, MirrorOp op, std::string target, Errc code,
                 bool after_effect) {
    std::lock_guard lock(mutex_);
    faults_.push_back(Fault{index_of(site), op, std::move(target), 0, code, after_effect});
  }
  void fail_nth_call(std::size_t n, Errc code, bool after_effect) {
    std::lock_guard lock(mutex_);
    faults_.push_back(Fault{0, MirrorOp::list_pools, {}, calls_made_ + n, code, after_effect});
  }
  std::size_t pending_faults() const {
    std::lock_guard lock(mutex_);
    return faults_.size();
  }

  // ---- the cluster

  Result<std::vector<PoolSpace>> list_pools(std::size_t s) {
    std::vector<PoolSpace> out;
    for (const auto& [name, pool] : sites_[s].pools) {
      if (name.find('/') == std::string::npos) out.push_back({name, pool.available_bytes});
    }
    return out;
  }
  Status set_site_name(std::size_t s, const std::string& name) {
    sites_[s].site_name = name;
    return {};
  }
  Result<std::string> site_name(std::size_t s) { return sites_[s].site_name; }

  // ---- pools and peers

  Status enable_pool_mirroring(std::size_t s, const std::string& pool) {
    if (auto made = make_namespace(s, pool); !made) return made.error();
    auto p = find_pool(s, pool, "enable mirroring");
    if (!p) return p.error();
    if (const auto base = base_pool(pool); base != pool) {  // shares its pool's uuid and peers
      (*p)->mirror_uuid = sites_[s].pools.at(base).mirror_uuid;
      (*p)->peers = sites_[s].pools.at(base).peers;
    }
    if (!(*p)->mirroring) {
      (*p)->mirroring = true;
      if ((*p)->mirror_uuid.empty()) (*p)->mirror_uuid = new_uuid();
    }
    return {};
  }

  Status disable_pool_mirroring(std::size_t s, const std::string& pool) {
    auto p = find_pool(s, pool, "disable mirroring");
    if (!p) return p.error();
    for (const auto& [name, image] : (*p)->images) {
      // Seen on the real pair (mirror_scenarios.cpp, peering_a_new_pool): failed_precondition.
      if (image.mirrored)
        return fail(Errc::failed_precondition,
                    site_prefix(s) + pool_what(pool, "disable mirroring") + ": image '" + name +
                        "' is mirrored; disable its mirroring first");
    }
    (*p)->mirroring = false;
    return {};
  }

  Result<std::string> mirror_uuid(std::size_t s, const std::string& pool) {
    auto p = mirroring_pool(s, base_pool(pool), "get mirror uuid");
    if (!p) return p.error();
    return (*p)->mirror_uuid;
  }

  Result<BootstrapToken> create_bootstrap_token(std::size_t s, const std::string& pool) {
    auto p = mirroring_pool(s, base_pool(pool), "create bootstrap token");
    if (!p) return p.error();
    return BootstrapToken{kTokenPrefix + std::to_string(s) + ":" + base_pool(pool) + ":" +
                          new_uuid()};
  }

  Status import_bootstrap_token(std::size_t s, const std::string& spec, const BootstrapToken& token,
                                PeerDirection direction) {
    const std::string pool = base_pool(spec);
    const auto what = site_prefix(s) + pool_what(pool, "import bootstrap token");
    auto p = mirroring_pool(s, pool, "import bootstrap token");
    if (!p) return p.error();
    const std::string_view secret = token.secret;
    if (!secret.starts_with(kTokenPrefix) || secret.size() < std::strlen(kTokenPrefix) + 2)
      return fail(Errc::invalid_argument, what + ": not a bootstrap token");
    const char digit = secret[std::strlen(kTokenPrefix)];
    if (digit != '0' && digit != '1')
      return fail(Errc::invalid_argument, what + ": not a bootstrap token");
    const std::size_t r = static_cast<std::size_t>(digit - '0');
    if (r == s) return fail(Errc::invalid_argument, what + ": the token is this cluster's own");
    if (!sites_[r].up)
      return fail(Errc::unavailable, what + ": the peer cluster '" + sites_[r].name +
                                         "' does not answer (the site is down)");
    auto remote = mirroring_pool(r, pool, "import bootstrap token (peer side)");
    if (!remote) return remote.error();
    add_peer(s, pool, r, direction);
    // rx-tx: the peer's pool learns this site too, so its rbd-mirror pulls from here.
    if (direction == PeerDirection::rx_tx) add_peer(r, pool, s, PeerDirection::rx_tx);
    return {};
  }

  Result<std::vector<PeerSite>> list_peers(std::size_t s, const std::string& spec) {
    const std::string pool = base_pool(spec);
    auto p = find_pool(s, pool, "list peers");
    if (!p) return p.error();
    std::vector<PeerSite> out;
    for (const auto& peer : (*p)->peers) {
      const auto remote = sites_[peer.site].pools.find(pool);
      out.push_back(PeerSite{peer.uuid, sites_[peer.site].site_name,
                             remote != sites_[peer.site].pools.end() && remote->second.mirroring
                                 ? remote->second.mirror_uuid
                                 : std::string(),
                             "client.rbd-mirror-peer", peer.direction});
    }
    return out;
  }

  Status remove_peer(std::size_t s, const std::string& spec, const std::string& uuid) {
    const std::string pool = base_pool(spec);
    auto p = find_pool(s, pool, "remove peer");
    if (!p) return p.error();
    // Removing a peer the pool does not have succeeds on the real pair (mirror_scenarios.cpp,
    // peering_a_new_pool), so it does here.
    for (auto& [name, entry] : sites_[s].pools) {
      if (name == pool || base_pool(name) == pool)
        std::erase_if(entry.peers, [&](const Peer& x) { return x.uuid == uuid; });
    }
    return {};
  }

  // ---- images

  Status create_image(std::size_t s, const ImageSpec& spec, std::uint64_t size) {
    auto p = find_pool(s, spec.pool, "create image");
    if (!p) return p.error();
    if ((*p)->images.contains(spec.image))
      return fail(Errc::already_exists, site_prefix(s) + image_what(spec, "create") + ": exists");
    Image image;
    image.content.size = size;
    image.status_time = now_;
    (*p)->images.emplace(spec.image, std::move(image));
    return {};
  }

  Status remove_image(std::size_t s, const ImageSpec& spec) {
    auto p = find_pool(s, spec.pool, "remove image");
    if (!p) return p.error();
    const auto it = (*p)->images.find(spec.image);
    if (it == (*p)->images.end())
      return fail(Errc::not_found, site_prefix(s) + image_what(spec, "remove") + ": no such image");
    // A mirrored primary takes its copy with it: the peer's rbd-mirror deletes the copy when it
    // finds the primary gone (on the next replay).
    (*p)->images.erase(it);
    return {};
  }

  Result<bool> image_exists(std::size_t s, const ImageSpec& spec) {
    auto p = find_pool(s, spec.pool, "open image");
    if (!p) return p.error();
    return (*p)->images.contains(spec.image);
  }

  Result<std::uint64_t> image_size(std::size_t s, const ImageSpec& spec) {
    auto img = find_image(s, spec, "get size");
    if (!img) return img.error();
    return (*img)->content.size;
  }

  Status write(std::size_t s, const ImageSpec& spec, std::uint64_t offset,
               std::span<const std::byte> data) {
    auto img = find_image(s, spec, "write");
    if (!img) return img.error();
    // docs/platform-notes.md: a non-primary image is read-only (EROFS).
    if ((*img)->role() == ImageRole::non_primary)
      return fail(Errc::failed_precondition, site_prefix(s) + image_what(spec, "write") +
                                                 ": non-primary (a read-only replica)");
    if (offset > (*img)->content.size || data.size() > (*img)->content.size - offset)
      return fail(Errc::invalid_argument,
                  site_prefix(s) + image_what(spec, "write") + ": beyond the end of the image");
    write_content((*img)->content, offset, data);
    return {};
  }

  Result<std::string> checksum(std::size_t s, const ImageSpec& spec) {
    auto img = find_image(s, spec, "read");
    if (!img) return img.error();
    return checksum_of((*img)->content);
  }

  // The image's HEAD as it is now, into a new image that is not mirrored (a drill's copy).
  Result<std::uint64_t> copy_image(std::size_t s, const ImageSpec& source,
                                   const ImageSpec& target) {
    auto img = find_image(s, source, "read");
    if (!img) return img.error();
    auto p = find_pool(s, target.pool, "create image");
    if (!p) return p.error();
    if ((*p)->images.contains(target.image))
      return fail(Errc::already_exists, site_prefix(s) + image_what(target, "create") + ": exists");
    Image copy;
    copy.content = (*img)->content;
    copy.status_time = now_;
    const auto written = copy.content.blocks.size() * kBlockBytes;
    (*p)->images.emplace(target.image, std::move(copy));
    return static_cast<std::uint64_t>(written);
  }

  // ---- mirror pairs

  Status enable_mirroring(std::size_t s, const ImageSpec& spec, MirrorMode mode) {
    const auto what = site_prefix(s) + image_what(spec, "enable mirroring");
    auto img = find_image(s, spec, "enable mirroring");
    if (!img) return img.error();
    auto& pool = sites_[s].pools.at(spec.pool);
    if (!pool.mirroring)
      return fail(Errc::failed_precondition, site_prefix(s) +
                                                 pool_what(spec.pool, "enable image mirroring") +
                                                 ": mirroring is disabled");
    Image& image = **img;
    if (image.mirrored) {
      if (image.mode == mode) return {};
      return fail(Errc::failed_precondition,
                  what + ": already mirrored in " + to_string(image.mode) + " mode");
    }
    image.mirrored = true;
    image.primary = true;
    image.mode = mode;
    image.global_id = new_uuid();
    image.replayer = Replayer::idle;
    image.error.clear();
    image.status_time = now_;
    // Enabling snapshot mirroring takes the pair's first primary mirror snapshot.
    if (mode == MirrorMode::snapshot) take_snapshot(pool, image, MirrorSnapshotState::primary);
    return {};
  }

  Status disable_mirroring(std::size_t s, const ImageSpec& spec, bool force) {
    auto img = find_image(s, spec, "disable mirroring");
    if (!img) return img.error();
    Image& image = **img;
    if (!image.mirrored) return {};
    if (!image.primary && !force)
      return fail(Errc::failed_precondition, site_prefix(s) +
                                                 image_what(spec, "disable mirroring") +
                                                 ": non-primary copy; disabling it needs force");
    // The peer's rbd-mirror deletes its non-primary copy once it sees this (docs/platform-notes.md:
    // disabling mirroring of a primary image makes the peer delete the copy).
    image.mirrored = false;
    image.primary = false;
    image.snaps.clear();
    image.resync_requested = false;
    image.replayer = Replayer::idle;
    image.error.clear();
    image.status_time = now_;
    return {};
  }

  Result<ImageMirrorInfo> mirror_info(std::size_t s, const ImageSpec& spec) {
    auto img = find_image(s, spec, "get mirror info");
    if (!img) return img.error();
    const Image& image = **img;
    ImageMirrorInfo info;
    info.role = image.role();
    info.mode = image.mode;
    info.global_id = image.mirrored ? image.global_id : std::string();
    return info;
  }

  Result<ImageMirrorStatus> mirror_status(std::size_t s, const ImageSpec& spec) {
    auto img = find_image(s, spec, "get mirror status");
    if (!img) return img.error();
    const Image& image = **img;
    ImageMirrorStatus out{spec, {}, {}, std::nullopt};
    out.info.role = image.role();
    out.info.mode = image.mode;
    out.info.global_id = image.mirrored ? image.global_id : std::string();
    if (!image.mirrored) return out;
    const std::size_t r = 1 - s;
    const auto& pool = sites_[s].pools.at(spec.pool);
    const bool peered = std::any_of(pool.peers.begin(), pool.peers.end(),
                                    [&](const Peer& p) { return p.site == r; });
    out.sites.push_back(site_status(s, spec, ""));
    if (peered) {
      const auto rp = sites_[r].pools.find(spec.pool);
      out.sites.push_back(site_status(
          r, spec, rp != sites_[r].pools.end() ? rp->second.mirror_uuid : std::string()));
      out.sites.back().site_name = sites_[r].site_name;
    }
    // What the non-primary side reported as synced ("remote_snapshot_timestamp").
    for (const std::size_t k : {s, r}) {
      const Image* at = find_image_raw(k, spec);
      if (at == nullptr || !at->mirrored || at->primary) continue;
      for (auto it = at->snaps.rbegin(); it != at->snaps.rend(); ++it) {
        if (it->meta.is_primary() || !it->meta.complete) continue;
        out.last_sync = std::max(out.last_sync.value_or(SystemTime{}), it->primary_created);
        break;
      }
    }
    return out;
  }

  Result<std::vector<MirrorSnapshot>> mirror_snapshots(std::size_t s, const ImageSpec& spec) {
    auto img = find_image(s, spec, "list snapshots");
    if (!img) return img.error();
    std::vector<MirrorSnapshot> out;
    for (const auto& snap : (*img)->snaps) out.push_back(snap.meta);
    return out;
  }

  Result<MirrorSnapshotRef> create_mirror_snapshot(std::size_t s, const ImageSpec& spec) {
    const auto what = site_prefix(s) + image_what(spec, "create mirror snapshot");
    auto img = find_image(s, spec, "create mirror snapshot");
    if (!img) return img.error();
    Image& image = **img;
    // docs/platform-notes.md: a non-primary image cannot take a mirror snapshot.
    if (image.role() != ImageRole::primary)
      return fail(Errc::failed_precondition,
                  what + ": the image is " + to_string(image.role()) + " here, not primary");
    if (image.mode != MirrorMode::snapshot)
      return fail(Errc::invalid_argument, what + ": the image mirrors in journal mode");
    auto& pool = sites_[s].pools.at(spec.pool);
    const auto id = take_snapshot(pool, image, MirrorSnapshotState::primary);
    return MirrorSnapshotRef{pool.mirror_uuid, id};
  }

  Status wait_for_snapshot(std::size_t s, const ImageSpec& spec, const MirrorSnapshotRef& ref,
                           storage::Deadline deadline) {
    const auto what =
        site_prefix(s) + image_what(spec, "wait for mirror snapshot") + " " + ref_text(ref);
    auto p = find_pool(s, spec.pool, "wait for mirror snapshot");
    if (!p) return p.error();
    // The model's time that the wait may let pass: its real time left, to the second (so a
    // deadline computed just before the call counts as whole seconds).
    const auto left =
        std::chrono::round<std::chrono::seconds>(std::clamp<std::chrono::steady_clock::duration>(
            deadline - std::chrono::steady_clock::now(), 0s, 24h));
    const auto until = now_ + left;
    bool stuck = false;
    while (true) {
      replay_all();
      std::string seen;
      const Image* image = find_image_raw(s, spec);
      if (image == nullptr) {
        seen = "the image does not exist (yet)";
      } else {
        if (image->role() == ImageRole::primary)
          return fail(Errc::failed_precondition, what + ": the image is primary here");
        const Snap* copy = nullptr;
        for (const auto& snap : image->snaps)
          if (snap.meta.copies(ref)) copy = &snap;
        if (copy != nullptr && copy->meta.complete) return {};
        seen = copy != nullptr        ? "copy in progress: " + describe(copy->meta)
               : image->snaps.empty() ? "no mirror snapshot"
                                      : "newest here: " + describe(image->snaps.back().meta);
      }
      // rbd-mirror's periodic check may still change something before the deadline.
      if (options_.waits_run_ticks && !stuck && next_tick_ <= until) {
        const auto before = generation_;
        run_tick();
        stuck = generation_ == before;  // the check changed nothing: no later one will either
        continue;
      }
      if (options_.waits_run_ticks) {
        while (next_tick_ <= until) next_tick_ += options_.tick_interval;
        now_ = std::max(now_, until);
      }
      return fail(Errc::deadline_exceeded, what + ": not complete by the deadline (" + seen + "; " +
                                               why_no_copy(s, spec) + ")");
    }
  }

  // ---- roles

  Result<MirrorSnapshotRef> demote(std::size_t s, const ImageSpec& spec) {
    const auto what = site_prefix(s) + image_what(spec, "demote");
    auto img = find_image(s, spec, "demote");
    if (!img) return img.error();
    Image& image = **img;
    if (image.role() != ImageRole::primary)
      return fail(Errc::failed_precondition,
                  what + ": the image is " + to_string(image.role()) + " here, not primary");
    auto& pool = sites_[s].pools.at(spec.pool);
    image.primary = false;
    // docs/platform-notes.md (rbd-mirror's periodic ticks): when roles swap, the replayer at the
    // former primary starts again only on the next image-state check.
    image.replayer = Replayer::awaiting_tick;
    image.error.clear();
    image.status_time = now_;
    ++generation_;
    if (image.mode == MirrorMode::journal) return MirrorSnapshotRef{pool.mirror_uuid, 0};
    const auto id = take_snapshot(pool, image, MirrorSnapshotState::primary_demoted);
    return MirrorSnapshotRef{pool.mirror_uuid, id};
  }

  Status promote(std::size_t s, const ImageSpec& spec, Promotion kind) {
    const auto what =
        site_prefix(s) + image_what(spec, kind == Promotion::forced ? "forced promote" : "promote");
    auto img = find_image(s, spec, "promote");
    if (!img) return img.error();
    Image& image = **img;
    if (image.role() == ImageRole::primary)
      return fail(Errc::failed_precondition, what + ": the image is already primary here");
    if (image.role() == ImageRole::not_mirrored)
      return fail(Errc::failed_precondition, what + ": the image is not mirrored");
    auto& pool = sites_[s].pools.at(spec.pool);
    // A forced promote asks nothing of the peer, which may be lost (docs/platform-notes.md, "A
    // returning site after a disaster"): with the peer up and primary, both are primary.
    if (kind == Promotion::planned) {
      if (auto e = planned_promote_refusal(s, spec, image); !e.empty())
        return fail(Errc::failed_precondition, what + ": " + e);
    }
    // A forced promote over a copy that was still arriving rolls back to the newest complete
    // snapshot: what had not fully arrived is lost, as with librbd.
    if (const Snap* last = image.newest(); last != nullptr && !last->meta.complete) {
      image.snaps.pop_back();
      for (auto it = image.snaps.rbegin(); it != image.snaps.rend(); ++it) {
        if (it->meta.complete) {
          image.content = it->content;
          break;
        }
      }
    }
    // Forced over a replica (the peer never demoted): on the real pair the image then holds only
    // the promote's own snapshot, none of the copies (mirror_scenarios.cpp,
    // forced_promote_and_split_brain_recovery).
    if (kind == Promotion::forced && image.newest() != nullptr &&
        image.newest()->meta.state == MirrorSnapshotState::non_primary)
      std::erase_if(image.snaps, [](const Snap& x) { return !x.meta.is_primary(); });
    image.primary = true;
    image.resync_requested = false;
    image.replayer = Replayer::idle;
    image.error.clear();
    image.status_time = now_;
    ++generation_;
    // Promoting takes a primary mirror snapshot: the first thing the peer copies back.
    if (image.mode == MirrorMode::snapshot)
      take_snapshot(pool, image, MirrorSnapshotState::primary);
    return {};
  }

  Status resync(std::size_t s, const ImageSpec& spec) {
    auto img = find_image(s, spec, "resync");
    if (!img) return img.error();
    Image& image = **img;
    if (image.role() != ImageRole::non_primary)
      return fail(Errc::failed_precondition, site_prefix(s) + image_what(spec, "resync") +
                                                 ": the image is " + to_string(image.role()) +
                                                 " here; demote it first");
    image.resync_requested = true;
    image.status_time = now_;
    return {};
  }

  Result<ReplicationLag> replication_lag(std::size_t s, const ImageSpec& spec) {
    auto img = find_image(s, spec, "replication lag");
    if (!img) return img.error();
    const Image& image = **img;
    if (image.role() != ImageRole::non_primary)
      return fail(Errc::failed_precondition, site_prefix(s) + image_what(spec, "replication lag") +
                                                 ": the image is " + to_string(image.role()) +
                                                 " here; lag is measured at the non-primary copy");
    ReplicationLag lag;
    for (auto it = image.snaps.rbegin(); it != image.snaps.rend(); ++it) {
      if (it->meta.is_primary() || !it->meta.complete) continue;
      lag.newest_synced = MirrorSnapshotRef{it->meta.primary_mirror_uuid, it->meta.primary_snap_id};
      lag.synced_as_of = it->meta.created;
      lag.age = std::chrono::duration_cast<std::chrono::milliseconds>(now_ - it->meta.created);
      break;
    }
    return lag;
  }

 private:
  struct Fault {
    std::size_t site = 0;
    MirrorOp op = MirrorOp::list_pools;
    std::string target;
    std::size_t at_call = 0;  // fail_nth_call: the call number; 0: match site, op and target
    Errc code = Errc::internal;
    bool after_effect = false;
  };

  std::optional<Fault> take_fault(std::size_t s, MirrorOp op, const std::string& target) {
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      const bool hit = it->at_call != 0 ? it->at_call == calls_made_
                                        : it->site == s && it->op == op &&
                                              (it->target.empty() || it->target == target);
      if (!hit) continue;
      Fault f = std::move(*it);
      faults_.erase(it);
      return f;
    }
    return std::nullopt;
  }

  std::string site_prefix(std::size_t s) const { return sites_[s].name + ": "; }

  std::string new_uuid() {
    std::uint64_t x = 0x9E3779B97F4A7C15ull * ++uuids_made_;
    x = (x ^ (x >> 31)) * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    char out[37];
    std::snprintf(out, sizeof out, "%08" PRIx32 "-%04x-4%03x-8%03x-%012" PRIx64,
                  static_cast<std::uint32_t>(x >> 32), static_cast<unsigned>(x >> 16) & 0xFFFFu,
                  static_cast<unsigned>(x) & 0xFFFu, static_cast<unsigned>(uuids_made_) & 0xFFFu,
                  uuids_made_);
    return out;
  }

  Result<Pool*> find_pool(std::size_t s, const std::string& pool, const char* op) {
    const auto it = sites_[s].pools.find(pool);
    if (it == sites_[s].pools.end())
      return fail(Errc::not_found, site_prefix(s) + pool_what(pool, op) + ": no such pool");
    return &it->second;
  }

  Result<Pool*> mirroring_pool(std::size_t s, const std::string& pool, const char* op) {
    auto p = find_pool(s, pool, op);
    if (!p) return p.error();
    if (!(*p)->mirroring)
      return fail(Errc::failed_precondition,
                  site_prefix(s) + pool_what(pool, op) + ": mirroring is disabled");
    return *p;
  }

  Result<Image*> find_image(std::size_t s, const ImageSpec& spec, const char* op) {
    auto p = find_pool(s, spec.pool, op);
    if (!p) return p.error();
    const auto it = (*p)->images.find(spec.image);
    if (it == (*p)->images.end())
      return fail(Errc::not_found, site_prefix(s) + image_what(spec, op) + ": no such image");
    return &it->second;
  }

  Image* find_image_raw(std::size_t s, const ImageSpec& spec) {
    const auto p = sites_[s].pools.find(spec.pool);
    if (p == sites_[s].pools.end()) return nullptr;
    const auto it = p->second.images.find(spec.image);
    return it == p->second.images.end() ? nullptr : &it->second;
  }

  // The pool of a pool spec "POOL[/NAMESPACE]".
  static std::string base_pool(const std::string& spec) {
    return storage::parse_pool_spec(spec).pool;
  }

  // A namespace of site s: an entry of its own in `pools`, keyed by its pool spec, that shares
  // its pool's mirror uuid and peers (copied as mirroring is enabled on it, kept in step by
  // add_peer and remove_peer), as librbd keeps them per pool. Made, as librbd makes it, when
  // mirroring is first enabled on it, which needs its pool to mirror (add_pool makes one too, as
  // `rbd namespace create` does). Nothing for a pool.
  Status make_namespace(std::size_t s, const std::string& spec) {
    const auto base = base_pool(spec);
    if (base == spec || sites_[s].pools.contains(spec)) return {};
    auto p = find_pool(s, base, "enable mirroring");
    if (!p) return p.error();
    if (!(*p)->mirroring) {
      return fail(Errc::failed_precondition,
                  site_prefix(s) + pool_what(spec, "enable mirroring") + ": pool '" + base +
                      "' does not mirror in image mode; enable that first (its namespaces "
                      "mirror through the pool's peers)");
    }
    Pool ns;
    ns.available_bytes = (*p)->available_bytes;
    ns.mirror_uuid = (*p)->mirror_uuid;
    ns.peers = (*p)->peers;
    sites_[s].pools.emplace(spec, std::move(ns));
    return {};
  }

  // Site s's pool `pool` (and its namespaces) gains site `other` as a peer.
  void add_peer(std::size_t s, const std::string& pool, std::size_t other,
                PeerDirection direction) {
    auto& base = sites_[s].pools.at(pool);
    for (const auto& p : base.peers)
      if (p.site == other) return;  // the same peer, imported before
    const Peer peer{new_uuid(), other, direction};
    for (auto& [name, entry] : sites_[s].pools) {
      if (name == pool || base_pool(name) == pool) entry.peers.push_back(peer);
    }
  }

  // True if site l's rbd-mirror pulls pool `name` from site r.
  bool pulls(std::size_t l, std::size_t r, const std::string& name) const {
    const auto lp = sites_[l].pools.find(name);
    const auto rp = sites_[r].pools.find(name);
    if (lp == sites_[l].pools.end() || rp == sites_[r].pools.end()) return false;
    if (!lp->second.mirroring || !rp->second.mirroring) return false;
    return std::any_of(lp->second.peers.begin(), lp->second.peers.end(),
                       [&](const Peer& p) { return p.site == r; });
  }

  std::uint64_t take_snapshot(Pool& pool, Image& image, MirrorSnapshotState state) {
    const std::uint64_t id = pool.next_snap_id++;
    Snap snap;
    snap.meta.id = id;
    snap.meta.state = state;
    snap.meta.complete = true;
    for (const auto& p : pool.peers) snap.meta.peer_uuids.push_back(p.uuid);
    snap.meta.created = now_;
    snap.content = image.content;
    snap.primary_created = now_;
    image.snaps.push_back(std::move(snap));
    prune(image);
    ++generation_;
    return id;
  }

  // rbd_mirroring_max_mirroring_snapshots: the oldest mirror snapshots go.
  void prune(Image& image) {
    while (image.snaps.size() > options_.max_mirror_snapshots)
      image.snaps.erase(image.snaps.begin());
  }

  // Why a planned promote must wait, or "" if it may go ahead.
  std::string planned_promote_refusal(std::size_t s, const ImageSpec& spec, const Image& image) {
    if (image.mode == MirrorMode::journal) {
      const Image* peer = find_image_raw(1 - s, spec);
      return peer != nullptr && peer->mirrored && peer->primary ? kPrimaryElsewhere : "";
    }
    // docs/platform-notes.md: a planned promote while the peer still holds the primary role fails
    // with EBUSY; librbd lets it through as soon as the peer is no longer primary, too early, so
    // it is refused until the peer's demotion is complete here, unless this site's own demotion
    // is its newest snapshot (it was primary last: re-promoting it loses nothing). Like librbd,
    // this looks at this site's snapshots only.
    const Snap* last = image.newest();
    if (last == nullptr) return std::string(kPrimaryElsewhere) + " (no mirror snapshot here)";
    const auto& m = last->meta;
    if (m.state == MirrorSnapshotState::primary_demoted) return "";
    if (m.state == MirrorSnapshotState::non_primary_demoted && m.complete) return "";
    if (m.state == MirrorSnapshotState::non_primary_demoted)
      return "the peer's demotion has not arrived here (newest: " + describe(m) + ")";
    return std::string(kPrimaryElsewhere) + " (newest here: " + describe(m) + ")";
  }

  // ---- rbd-mirror

  // Where site l's copy continues in the peer's snapshot list, or nullopt if its history does
  // not continue the peer's (split brain).
  static std::optional<std::size_t> resume_point(const Image& local, const std::string& local_uuid,
                                                 const Image& remote,
                                                 const std::string& remote_uuid) {
    const Snap* last = local.newest();
    if (last == nullptr) return 0;
    if (!last->meta.is_primary()) {
      if (last->meta.primary_mirror_uuid != remote_uuid) return std::nullopt;
      std::size_t i = 0;
      while (i < remote.snaps.size() && remote.snaps[i].meta.id <= last->meta.primary_snap_id) ++i;
      return i;
    }
    // Our own snapshot is the newest: only our demotion, completely copied by the peer, links us.
    if (last->meta.state != MirrorSnapshotState::primary_demoted) return std::nullopt;
    const MirrorSnapshotRef own{local_uuid, last->meta.id};
    for (std::size_t j = 0; j < remote.snaps.size(); ++j)
      if (remote.snaps[j].meta.copies(own) && remote.snaps[j].meta.complete) return j + 1;
    return std::nullopt;
  }

  void stop_replayer(Image& image, const char* error) {
    if (image.replayer == Replayer::stopped && image.error == error) return;
    image.replayer = Replayer::stopped;
    image.error = error;
    image.status_time = now_;
    ++generation_;
  }

  void start_replayer(Image& image) {
    if (image.replayer == Replayer::replaying) return;
    image.replayer = Replayer::replaying;
    image.error.clear();
    image.status_time = now_;
    ++generation_;
  }

  // One pass of every replayer; `complete` false only starts copies. Returns true if anything
  // changed.
  bool replay_pass(bool complete) {
    const auto before = generation_;
    for (std::size_t l = 0; l < sites_.size(); ++l) {
      const std::size_t r = 1 - l;
      if (!sites_[l].up || !sites_[r].up) continue;
      for (auto& [name, lp] : sites_[l].pools) {
        if (!pulls(l, r, name)) continue;
        replay_pool(lp, sites_[r].pools.at(name), complete);
      }
    }
    return generation_ != before;
  }

  void replay_all() {
    for (int i = 0; i < 1000 && replay_pass(true); ++i) {
    }
  }

  void replay_pool(Pool& lp, Pool& rp, bool complete) {
    // A new primary image at the peer: rbd-mirror creates its non-primary copy here.
    for (const auto& [name, ri] : rp.images) {
      if (!ri.mirrored || !ri.primary || lp.images.contains(name)) continue;
      Image li;
      li.mirrored = true;
      li.mode = ri.mode;
      li.global_id = ri.global_id;
      li.content.size = ri.content.size;
      li.replayer = ri.mode == MirrorMode::snapshot ? Replayer::replaying : Replayer::idle;
      li.status_time = now_;
      lp.images.emplace(name, std::move(li));
      ++generation_;
    }
    for (auto it = lp.images.begin(); it != lp.images.end();) {
      Image& li = it->second;
      if (!li.mirrored || li.primary) {
        ++it;
        continue;
      }
      const auto ri = rp.images.find(it->first);
      // The primary is gone or no longer mirrored: rbd-mirror deletes the copy.
      if (ri == rp.images.end() || !ri->second.mirrored || ri->second.global_id != li.global_id) {
        it = lp.images.erase(it);
        ++generation_;
        continue;
      }
      replay_image(lp, li, rp, ri->second, complete);
      ++it;
    }
  }

  void replay_image(Pool& lp, Image& li, const Pool& rp, Image& ri, bool complete) {
    if (li.mode != MirrorMode::snapshot || li.replayer != Replayer::replaying) return;
    if (li.resync_requested) {
      // Resync: the copy is thrown away and made again from the primary (docs/platform-notes.md,
      // "A returning site after a disaster": the way out of a split brain).
      if (!ri.primary) return;
      li.snaps.clear();
      li.content = Content{ri.content.size, {}};
      li.resync_requested = false;
      li.status_time = now_;
      ++generation_;
    }
    if (!li.snaps.empty() && !li.snaps.back().meta.is_primary() && !li.snaps.back().meta.complete) {
      if (!complete) return;  // one copy at a time
      Snap& copy = li.snaps.back();
      const auto source = std::find_if(ri.snaps.begin(), ri.snaps.end(), [&](const Snap& x) {
        return x.meta.id == copy.meta.primary_snap_id;
      });
      if (source == ri.snaps.end()) {
        li.snaps.pop_back();  // the primary pruned it meanwhile: the next one is copied instead
      } else {
        finish_copy(copy, *source);
        li.content = copy.content;
      }
      li.status_time = now_;
      ++generation_;
    }
    const auto start = resume_point(li, lp.mirror_uuid, ri, rp.mirror_uuid);
    if (!start) {
      stop_replayer(li, kSplitBrain);
      return;
    }
    for (std::size_t i = *start; i < ri.snaps.size(); ++i) {
      const Snap& source = ri.snaps[i];
      if (!source.meta.is_primary()) continue;  // the peer's own copies are not copied back
      Snap copy;
      copy.meta.id = lp.next_snap_id++;
      copy.meta.state = source.meta.state == MirrorSnapshotState::primary_demoted
                            ? MirrorSnapshotState::non_primary_demoted
                            : MirrorSnapshotState::non_primary;
      copy.meta.primary_mirror_uuid = rp.mirror_uuid;
      copy.meta.primary_snap_id = source.meta.id;
      copy.meta.created = now_;
      copy.primary_created = source.meta.created;
      if (complete) {
        finish_copy(copy, source);
        li.content = copy.content;
      } else {
        tear(li.content, source.content);
      }
      li.snaps.push_back(std::move(copy));
      li.status_time = now_;
      ++generation_;
      if (!complete) break;
    }
    unlink_synced(li, ri);
    prune(li);
  }

  // What rbd-mirror removes once a copy is complete, as seen on the real pair
  // (mirror_scenarios.cpp, role_change_snapshot_history and snapshots_are_pruned): the copy
  // keeps only its newest complete copy (and its own snapshots from when it was primary); a
  // primary drops its primary snapshots older than the one just synced. A demoted image keeps
  // its snapshots.
  void unlink_synced(Image& li, Image& ri) {
    const auto newest = std::find_if(li.snaps.rbegin(), li.snaps.rend(), [](const Snap& x) {
      return !x.meta.is_primary() && x.meta.complete;
    });
    if (newest == li.snaps.rend()) return;
    const std::uint64_t keep_id = newest->meta.id;
    const std::uint64_t synced = newest->meta.primary_snap_id;
    const auto before = li.snaps.size() + ri.snaps.size();
    std::erase_if(li.snaps,
                  [&](const Snap& x) { return !x.meta.is_primary() && x.meta.id < keep_id; });
    if (ri.primary) {
      std::erase_if(ri.snaps, [&](const Snap& x) {
        return x.meta.state == MirrorSnapshotState::primary && x.meta.id < synced;
      });
    }
    if (li.snaps.size() + ri.snaps.size() != before) ++generation_;
  }

  // A copy under way has written part of the snapshot into the image (docs/platform-notes.md:
  // the replica's HEAD is the copy's target): its first half of the snapshot's blocks here.
  static void tear(Content& head, const Content& into) {
    std::size_t n = (into.blocks.size() + 1) / 2;
    for (auto it = into.blocks.begin(); n > 0 && it != into.blocks.end(); ++it, --n) {
      head.blocks[it->first] = it->second;
    }
  }

  static void finish_copy(Snap& copy, const Snap& source) {
    copy.meta.complete = true;
    copy.content = source.content;
  }

  // rbd-mirror's image-state check: every stopped replayer of a non-primary image tries to
  // start.
  void run_tick() {
    now_ = std::max(now_, next_tick_);
    next_tick_ += options_.tick_interval;
    for (std::size_t l = 0; l < sites_.size(); ++l) {
      const std::size_t r = 1 - l;
      if (!sites_[l].up || !sites_[r].up) continue;
      for (auto& [name, lp] : sites_[l].pools) {
        if (!pulls(l, r, name)) continue;
        const auto& rp = sites_[r].pools.at(name);
        for (auto& [image_name, li] : lp.images) {
          if (!li.mirrored || li.primary || li.mode != MirrorMode::snapshot) continue;
          if (li.replayer != Replayer::awaiting_tick && li.replayer != Replayer::stopped) continue;
          const auto ri = rp.images.find(image_name);
          if (ri == rp.images.end() || !ri->second.mirrored) continue;  // replay deletes the copy
          try_start(li, lp, ri->second, rp);
        }
      }
    }
    replay_all();
  }

  void try_start(Image& li, const Pool& lp, const Image& ri, const Pool& rp) {
    if (!ri.primary) {
      // docs/platform-notes.md, the failback stall: with its own demotion newest and the peer not
      // primary, the replayer gives up ("remote image is not primary") on every check, and a
      // resync does not help, until the peer is primary again.
      const Snap* last = li.newest();
      if (li.resync_requested || last == nullptr || last->meta.is_primary()) {
        stop_replayer(li, kRemoteNotPrimary);
        return;
      }
      start_replayer(li);
      return;
    }
    if (li.resync_requested || resume_point(li, lp.mirror_uuid, ri, rp.mirror_uuid)) {
      start_replayer(li);
      return;
    }
    stop_replayer(li, kSplitBrain);
  }

  // For a wait that runs out: what keeps the copy from happening.
  std::string why_no_copy(std::size_t s, const ImageSpec& spec) {
    const std::size_t r = 1 - s;
    if (!sites_[r].up) return "the peer site " + sites_[r].name + " is down";
    if (!pulls(s, r, spec.pool))
      return sites_[s].name + " does not pull pool " + spec.pool + " from " + sites_[r].name;
    const Image* local = find_image_raw(s, spec);
    const Image* remote = find_image_raw(r, spec);
    if (remote == nullptr || !remote->mirrored) return "no mirrored image at " + sites_[r].name;
    if (local == nullptr)
      return "no copy here, and the image at " + sites_[r].name + " is not primary";
    if (both_primary(*local, *remote)) return "split-brain: primary at both sites";
    switch (local->replayer) {
      case Replayer::awaiting_tick:
        return "the image replayer at " + sites_[s].name +
               " starts only at rbd-mirror's next image-state check";
      case Replayer::stopped:
        return "the image replayer at " + sites_[s].name + " stopped: " + local->error;
      case Replayer::idle:
        return "no image replayer runs at " + sites_[s].name;
      case Replayer::replaying:
        break;
    }
    if (local->resync_requested) return "a resync waits for a primary at " + sites_[r].name;
    return "nothing newer to copy from " + sites_[r].name;
  }

  static bool both_primary(const Image& a, const Image& b) {
    return a.mirrored && a.primary && b.mirrored && b.primary;
  }

  SiteReplayStatus site_status(std::size_t k, const ImageSpec& spec, std::string uuid) {
    SiteReplayStatus st;
    st.mirror_uuid = std::move(uuid);
    st.up = sites_[k].up;
    const Image* image = find_image_raw(k, spec);
    if (image == nullptr || !image->mirrored) {
      st.state = ReplayState::unknown;
      st.description = "image not found or not mirrored";
      return st;
    }
    st.last_update = image->status_time;
    // Primary at both sites is not reported as a split brain: on the real pair both daemons
    // report "local image is primary" (mirror_scenarios.cpp, split_brain_with_both_sites_up).
    // "split-brain" comes from a demoted side whose history the primary's does not continue.
    if (image->primary) {
      st.state = ReplayState::stopped;
      st.description = "local image is primary";
      return st;
    }
    switch (image->replayer) {
      case Replayer::replaying: {
        st.state = ReplayState::replaying;
        long long local_ts = 0;
        long long remote_ts = 0;
        for (auto it = image->snaps.rbegin(); it != image->snaps.rend(); ++it) {
          if (it->meta.is_primary() || !it->meta.complete) continue;
          local_ts = unix_seconds(it->meta.created);
          remote_ts = unix_seconds(it->primary_created);
          break;
        }
        st.description = "replaying, {\"bytes_per_second\":0.0,\"local_snapshot_timestamp\":" +
                         std::to_string(local_ts) +
                         ",\"remote_snapshot_timestamp\":" + std::to_string(remote_ts) +
                         ",\"replay_state\":\"idle\"}";
        break;
      }
      case Replayer::awaiting_tick:
        st.state = ReplayState::stopped;
        st.description = "stopped";
        break;
      case Replayer::stopped:
        st.state = ReplayState::error;
        st.description = image->error;
        break;
      case Replayer::idle:
        st.state = ReplayState::unknown;
        break;
    }
    return st;
  }

  TwoSiteMirrorOptions options_;
  mutable std::mutex mutex_;
  std::array<Site, 2> sites_;
  SystemTime now_;
  SystemTime next_tick_;
  std::uint64_t uuids_made_ = 0;
  std::uint64_t generation_ = 0;  // bumped by every change to snapshots, images and replayers
  std::size_t calls_made_ = 0;
  std::vector<MirrorCall> log_;
  std::vector<Fault> faults_;
};

namespace {

// One site of the model as MirrorStorage.
class ModelSite final : public storage::MirrorStorage {
 public:
  using Model = TwoSiteMirror::Model;
  ModelSite(Model& model, std::size_t site) : model_(model), site_(site) {}

  Result<std::vector<PoolSpace>> list_pools() override {
    return model_.call(site_, MirrorOp::list_pools, "", [&] { return model_.list_pools(site_); });
  }
  Status set_site_name(const std::string& name) override {
    return model_.call(site_, MirrorOp::set_site_name, "",
                       [&] { return model_.set_site_name(site_, name); });
  }
  Result<std::string> site_name() override {
    return model_.call(site_, MirrorOp::site_name, "", [&] { return model_.site_name(site_); });
  }
  Status enable_pool_mirroring(const std::string& pool) override {
    return model_.call(site_, MirrorOp::enable_pool_mirroring, pool,
                       [&] { return model_.enable_pool_mirroring(site_, pool); });
  }
  Status disable_pool_mirroring(const std::string& pool) override {
    return model_.call(site_, MirrorOp::disable_pool_mirroring, pool,
                       [&] { return model_.disable_pool_mirroring(site_, pool); });
  }
  Result<std::string> mirror_uuid(const std::string& pool) override {
    return model_.call(site_, MirrorOp::mirror_uuid, pool,
                       [&] { return model_.mirror_uuid(site_, pool); });
  }
  Result<BootstrapToken> create_bootstrap_token(const std::string& pool) override {
    return model_.call(site_, MirrorOp::create_bootstrap_token, pool,
                       [&] { return model_.create_bootstrap_token(site_, pool); });
  }
  Status import_bootstrap_token(const std::string& pool, const BootstrapToken& token,
                                PeerDirection direction) override {
    return model_.call(site_, MirrorOp::import_bootstrap_token, pool, [&] {
      return model_.import_bootstrap_token(site_, pool, token, direction);
    });
  }
  Result<std::vector<PeerSite>> list_peers(const std::string& pool) override {
    return model_.call(site_, MirrorOp::list_peers, pool,
                       [&] { return model_.list_peers(site_, pool); });
  }
  Status remove_peer(const std::string& pool, const std::string& peer_uuid) override {
    return model_.call(site_, MirrorOp::remove_peer, pool,
                       [&] { return model_.remove_peer(site_, pool, peer_uuid); });
  }
  Status create_image(const ImageSpec& image, std::uint64_t size_bytes) override {
    return model_.call(site_, MirrorOp::create_image, to_string(image),
                       [&] { return model_.create_image(site_, image, size_bytes); });
  }
  Status remove_image(const ImageSpec& image) override {
    return model_.call(site_, MirrorOp::remove_image, to_string(image),
                       [&] { return model_.remove_image(site_, image); });
  }
  Result<bool> image_exists(const ImageSpec& image) override {
    return model_.call(site_, MirrorOp::image_exists, to_string(image),
                       [&] { return model_.image_exists(site_, image); });
  }
  Result<std::uint64_t> image_size(const ImageSpec& image) override {
    return model_.call(site_, MirrorOp::image_size, to_string(image),
                       [&] { return model_.image_size(site_, image); });
  }
  Status write(const ImageSpec& image, std::uint64_t offset,
               std::span<const std::byte> data) override {
    return model_.call(site_, MirrorOp::write, to_string(image),
                       [&] { return model_.write(site_, image, offset, data); });
  }
  Result<std::string> checksum(const ImageSpec& image) override {
    return model_.call(site_, MirrorOp::checksum, to_string(image),
                       [&] { return model_.checksum(site_, image); });
  }
  Result<std::uint64_t> copy_image(const ImageSpec& source, const ImageSpec& target,
                                   std::stop_token stop) override {
    if (stop.stop_requested()) return fail(Errc::aborted, to_string(source) + ": copy stopped");
    return model_.call(site_, MirrorOp::copy_image, to_string(source),
                       [&] { return model_.copy_image(site_, source, target); });
  }
  Status enable_mirroring(const ImageSpec& image, MirrorMode mode) override {
    return model_.call(site_, MirrorOp::enable_mirroring, to_string(image),
                       [&] { return model_.enable_mirroring(site_, image, mode); });
  }
  Status disable_mirroring(const ImageSpec& image, bool force) override {
    return model_.call(site_, MirrorOp::disable_mirroring, to_string(image),
                       [&] { return model_.disable_mirroring(site_, image, force); });
  }
  Result<ImageMirrorInfo> mirror_info(const ImageSpec& image) override {
    return model_.call(site_, MirrorOp::mirror_info, to_string(image),
                       [&] { return model_.mirror_info(site_, image); });
  }
  Result<ImageMirrorStatus> mirror_status(const ImageSpec& image) override {
    return model_.call(site_, MirrorOp::mirror_status, to_string(image),
                       [&] { return model_.mirror_status(site_, image); });
  }
  Result<std::vector<MirrorSnapshot>> mirror_snapshots(const ImageSpec& image) override {
    return model_.call(site_, MirrorOp::mirror_snapshots, to_string(image),
                       [&] { return model_.mirror_snapshots(site_, image); });
  }
  Result<MirrorSnapshotRef> create_mirror_snapshot(const ImageSpec& image) override {
    return model_.call(site_, MirrorOp::create_mirror_snapshot, to_string(image),
                       [&] { return model_.create_mirror_snapshot(site_, image); });
  }
  Status wait_for_snapshot(const ImageSpec& image, const MirrorSnapshotRef& snapshot,
                           storage::Deadline deadline) override {
    return model_.call(site_, MirrorOp::wait_for_snapshot, to_string(image),
                       [&] { return model_.wait_for_snapshot(site_, image, snapshot, deadline); });
  }
  Result<MirrorSnapshotRef> demote(const ImageSpec& image) override {
    return model_.call(site_, MirrorOp::demote, to_string(image),
                       [&] { return model_.demote(site_, image); });
  }
  Status promote(const ImageSpec& image, Promotion kind) override {
    return model_.call(site_, MirrorOp::promote, to_string(image),
                       [&] { return model_.promote(site_, image, kind); });
  }
  Status resync(const ImageSpec& image) override {
    return model_.call(site_, MirrorOp::resync, to_string(image),
                       [&] { return model_.resync(site_, image); });
  }
  Result<ReplicationLag> replication_lag(const ImageSpec& image) override {
    return model_.call(site_, MirrorOp::replication_lag, to_string(image),
                       [&] { return model_.replication_lag(site_, image); });
  }

 private:
  Model& model_;
  std::size_t site_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

TwoSiteMirror::TwoSiteMirror(TwoSiteMirrorOptions options)
    : model_(std::make_unique<Model>(std::move(options))) {
  for (std::size_t i = 0; i < model_->views.size(); ++i)
    model_->views[i] = std::make_unique<ModelSite>(*model_, i);
}
TwoSiteMirror::~TwoSiteMirror() = default;

storage::MirrorStorage& TwoSiteMirror::site(std::string_view name) {
  return *model_->views[model_->index_of(name)];
}
storage::MirrorStorage& TwoSiteMirror::site_a() { return *model_->views[0]; }
storage::MirrorStorage& TwoSiteMirror::site_b() { return *model_->views[1]; }
void TwoSiteMirror::set_up(std::string_view site, bool up) { model_->set_up(site, up); }
bool TwoSiteMirror::is_up(std::string_view site) const { return model_->is_up(site); }
std::vector<storage::ImageSpec> TwoSiteMirror::primary_at_both() const {
  return model_->primary_at_both();
}
void TwoSiteMirror::add_pool(std::string_view site, const std::string& pool) {
  model_->add_pool(site, pool);
}
void TwoSiteMirror::replay() { model_->replay(); }
void TwoSiteMirror::begin_copies() { model_->begin_copies(); }
void TwoSiteMirror::tick() { model_->tick(); }
void TwoSiteMirror::advance(std::chrono::milliseconds duration) { model_->advance(duration); }
storage::SystemTime TwoSiteMirror::now() const { return model_->now(); }
std::vector<MirrorCall> TwoSiteMirror::calls() const { return model_->calls(); }
std::size_t TwoSiteMirror::count(std::string_view site, MirrorOp op,
                                 std::string_view target) const {
  return model_->count(site, op, target);
}
void TwoSiteMirror::clear_calls() { model_->clear_calls(); }
void TwoSiteMirror::fail_next(std::string_view site, MirrorOp op, std::string target, Errc code,
                              bool after_effect) {
  model_->fail_next(site, op, std::move(target), code, after_effect);
}
void TwoSiteMirror::fail_nth_call(std::size_t n, Errc code, bool after_effect) {
  model_->fail_nth_call(n, code, after_effect);
}
std::size_t TwoSiteMirror::pending_faults() const { return model_->pending_faults(); }

}  // namespace dr::testing
