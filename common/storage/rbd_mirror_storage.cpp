#include "storage/rbd_mirror_storage.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "storage/ceph_errors.hpp"
#include "storage/ceph_handles.hpp"

namespace dr::storage {

namespace {

using namespace std::chrono_literals;

// How often bounded waits look again: a snapshot list costs a few milliseconds here.
constexpr auto kPollInterval = 100ms;
constexpr std::size_t kIoChunk = 4u << 20;
// How long a planned promote waits for the local rbd-mirror to let go of the image.
constexpr auto kPromoteLockWait = 30s;

std::string pool_what(const std::string& pool, const char* op) {
  return "rbd pool '" + pool + "': " + op;
}
std::string image_what(const ImageSpec& image, const char* op) {
  return "rbd image '" + to_string(image) + "': " + op;
}

SystemTime to_system_time(const timespec& ts) {
  return SystemTime{std::chrono::duration_cast<SystemTime::duration>(
      std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec))};
}

// librbd's "fill this buffer or tell me the size" calls: retried once with the size it asks for.
template <class Call>
Result<std::string> read_string(Call call, const std::string& what) {
  std::vector<char> buf(256);
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::size_t len = buf.size();
    const int r = call(buf.data(), &len);
    if (r == -ERANGE) {
      buf.resize(len + 1);
      continue;
    }
    if (r < 0) return from_errno(r, what);
    return std::string(buf.data(), ::strnlen(buf.data(), std::min(len, buf.size())));
  }
  return fail(Errc::internal, what + ": buffer size kept changing");
}

// rbd-mirror's snapshot replayer describes its state as "replaying, {json}" with the primary's
// time of the newest synced snapshot in "remote_snapshot_timestamp" (seconds).
std::optional<SystemTime> parse_remote_snapshot_timestamp(const std::string& description) {
  static constexpr std::string_view kKey = "\"remote_snapshot_timestamp\":";
  const auto pos = description.find(kKey);
  if (pos == std::string::npos) return std::nullopt;
  long long secs = 0;
  if (std::sscanf(description.c_str() + pos + kKey.size(), "%lld", &secs) != 1 || secs <= 0)
    return std::nullopt;
  return SystemTime{std::chrono::seconds(secs)};
}

MirrorSnapshotState from_rbd(rbd_snap_mirror_state_t state) {
  switch (state) {
    case RBD_SNAP_MIRROR_STATE_PRIMARY:
      return MirrorSnapshotState::primary;
    case RBD_SNAP_MIRROR_STATE_PRIMARY_DEMOTED:
      return MirrorSnapshotState::primary_demoted;
    case RBD_SNAP_MIRROR_STATE_NON_PRIMARY:
      return MirrorSnapshotState::non_primary;
    case RBD_SNAP_MIRROR_STATE_NON_PRIMARY_DEMOTED:
      return MirrorSnapshotState::non_primary_demoted;
  }
  return MirrorSnapshotState::non_primary;
}

ReplayState from_rbd(rbd_mirror_image_status_state_t state) {
  switch (state) {
    case MIRROR_IMAGE_STATUS_STATE_UNKNOWN:
      return ReplayState::unknown;
    case MIRROR_IMAGE_STATUS_STATE_ERROR:
      return ReplayState::error;
    case MIRROR_IMAGE_STATUS_STATE_SYNCING:
      return ReplayState::syncing;
    case MIRROR_IMAGE_STATUS_STATE_STARTING_REPLAY:
      return ReplayState::starting_replay;
    case MIRROR_IMAGE_STATUS_STATE_REPLAYING:
      return ReplayState::replaying;
    case MIRROR_IMAGE_STATUS_STATE_STOPPING_REPLAY:
      return ReplayState::stopping_replay;
    case MIRROR_IMAGE_STATUS_STATE_STOPPED:
      return ReplayState::stopped;
  }
  return ReplayState::unknown;
}

std::string describe(const MirrorSnapshot& s) {
  std::string out = "snapshot " + std::to_string(s.id) + " (" + to_string(s.state);
  if (!s.is_primary())
    out += " copy of " + s.primary_mirror_uuid + "/" + std::to_string(s.primary_snap_id);
  out += s.complete ? ", complete)" : ", incomplete)";
  return out;
}

// An image opened for one call, with what the call usually checks first. Members in this order
// so the image closes before its pool.
struct OpenedImage {
  IoContext io;
  RbdImage img;
  ImageMirrorInfo info;
};

class RbdMirrorStorage final : public MirrorStorage {
 public:
  explicit RbdMirrorStorage(RadosCluster cluster) : cluster_(std::move(cluster)) {}

  // ---- site and peers --------------------------------------------------------------------

  Status set_site_name(const std::string& name) override {
    // Only when it changes: agents call this on every protect, and each set is a mon command.
    if (auto current = site_name(); current && *current == name) return {};
    const int r = rbd_mirror_site_name_set(cluster_.get(), name.c_str());
    if (r < 0) return from_errno(r, "ceph cluster: set site name '" + name + "'");
    return {};
  }

  Result<std::string> site_name() override {
    return read_string(
        [&](char* buf, std::size_t* len) {
          return rbd_mirror_site_name_get(cluster_.get(), buf, len);
        },
        "ceph cluster: get site name");
  }

  Status enable_pool_mirroring(const std::string& pool) override {
    if (auto s = prepare_namespace(pool); !s) return s.error();
    auto io = open_pool(pool, "enable mirroring");
    if (!io) return io.error();
    auto mode = pool_mode(*io, pool);
    if (!mode) return mode.error();
    if (*mode == RBD_MIRROR_MODE_IMAGE) return {};
    if (*mode == RBD_MIRROR_MODE_POOL)
      return fail(Errc::failed_precondition,
                  pool_what(pool, "enable mirroring") +
                      ": the pool mirrors in pool mode (journaled images only); drpair needs "
                      "image mode");
    const int r = rbd_mirror_mode_set(io->get(), RBD_MIRROR_MODE_IMAGE);
    if (r < 0) return from_errno(r, pool_what(pool, "enable mirroring"));
    return {};
  }

  Status disable_pool_mirroring(const std::string& pool) override {
    auto io = open_pool(pool, "disable mirroring");
    if (!io) return io.error();
    const int r = rbd_mirror_mode_set(io->get(), RBD_MIRROR_MODE_DISABLED);
    if (r < 0) return from_errno(r, pool_what(pool, "disable mirroring"));
    return {};
  }

  Result<std::string> mirror_uuid(const std::string& pool) override {
    auto io = open_base_pool(pool, "get mirror uuid");
    if (!io) return io.error();
    if (auto e = require_pool_mirroring(*io, pool, "get mirror uuid"); !e) return e.error();
    return read_mirror_uuid(*io, pool);
  }

  Result<BootstrapToken> create_bootstrap_token(const std::string& pool) override {
    auto io = open_base_pool(pool, "create bootstrap token");
    if (!io) return io.error();
    if (auto e = require_pool_mirroring(*io, pool, "create bootstrap token"); !e) return e.error();
    auto token = read_string(
        [&](char* buf, std::size_t* len) {
          return rbd_mirror_peer_bootstrap_create(io->get(), buf, len);
        },
        pool_what(pool, "create bootstrap token"));
    if (!token) return token.error();
    return BootstrapToken{std::move(*token)};
  }

  Status import_bootstrap_token(const std::string& pool, const BootstrapToken& token,
                                PeerDirection direction) override {
    const auto what = pool_what(pool, "import bootstrap token");
    auto io = open_base_pool(pool, "import bootstrap token");
    if (!io) return io.error();
    if (auto e = require_pool_mirroring(*io, pool, "import bootstrap token"); !e) return e.error();
    const int r = rbd_mirror_peer_bootstrap_import(io->get(),
                                                   direction == PeerDirection::rx_tx
                                                       ? RBD_MIRROR_PEER_DIRECTION_RX_TX
                                                       : RBD_MIRROR_PEER_DIRECTION_RX,
                                                   token.secret.c_str());
    if (r == -EEXIST) return {};  // the same peer, imported before
    if (r < 0) return from_errno(r, what);
    return {};
  }

  Result<std::vector<PeerSite>> list_peers(const std::string& pool) override {
    const auto what = pool_what(pool, "list peers");
    auto io = open_base_pool(pool, "list peers");
    if (!io) return io.error();
    std::vector<rbd_mirror_peer_site_t> peers(8);
    int count = static_cast<int>(peers.size());
    int r = rbd_mirror_peer_site_list(io->get(), peers.data(), &count);
    if (r == -ERANGE) {
      peers.resize(static_cast<std::size_t>(count));
      r = rbd_mirror_peer_site_list(io->get(), peers.data(), &count);
    }
    if (r < 0) return from_errno(r, what);
    std::vector<PeerSite> out;
    for (int i = 0; i < count; ++i) {
      const auto& p = peers[static_cast<std::size_t>(i)];
      out.push_back(PeerSite{p.uuid ? p.uuid : "", p.site_name ? p.site_name : "",
                             p.mirror_uuid ? p.mirror_uuid : "", p.client_name ? p.client_name : "",
                             p.direction == RBD_MIRROR_PEER_DIRECTION_RX_TX
                                 ? PeerDirection::rx_tx
                                 : PeerDirection::rx_only});
    }
    rbd_mirror_peer_site_list_cleanup(peers.data(), count);
    return out;
  }

  Status remove_peer(const std::string& pool, const std::string& peer_uuid) override {
    auto io = open_base_pool(pool, "remove peer");
    if (!io) return io.error();
    const int r = rbd_mirror_peer_site_remove(io->get(), peer_uuid.c_str());
    if (r < 0) return from_errno(r, pool_what(pool, "remove peer") + " '" + peer_uuid + "'");
    return {};
  }

  // ---- images ----------------------------------------------------------------------------

  Status create_image(const ImageSpec& image, std::uint64_t size_bytes) override {
    auto io = open_pool(image.pool, "create image");
    if (!io) return io.error();
    rbd_image_options_t opts;
    rbd_image_options_create(&opts);
    const int r = rbd_create4(io->get(), image.image.c_str(), size_bytes, opts);
    rbd_image_options_destroy(opts);
    if (r < 0) return from_errno(r, image_what(image, "create"));
    return {};
  }

  Status remove_image(const ImageSpec& image) override {
    auto io = open_pool(image.pool, "remove image");
    if (!io) return io.error();
    const int r = rbd_remove(io->get(), image.image.c_str());
    if (r < 0) return from_errno(r, image_what(image, "remove"));
    return {};
  }

  Result<bool> image_exists(const ImageSpec& image) override {
    auto io = open_pool(image.pool, "open image");
    if (!io) return io.error();
    RbdImage img;
    const int r = rbd_open_read_only(io->get(), image.image.c_str(), img.out(), nullptr);
    if (r == -ENOENT) return false;
    if (r < 0) return from_errno(r, image_what(image, "open"));
    return true;
  }

  Result<std::uint64_t> image_size(const ImageSpec& image) override {
    auto io = open_pool(image.pool, "open image");
    if (!io) return io.error();
    auto img = open_image(*io, image, true);
    if (!img) return img.error();
    std::uint64_t size = 0;
    const int r = rbd_get_size(img->get(), &size);
    if (r < 0) return from_errno(r, image_what(image, "get size"));
    return size;
  }

  Status write(const ImageSpec& image, std::uint64_t offset,
               std::span<const std::byte> data) override {
    auto opened = open_with_info(image, "write", false);
    if (!opened) return opened.error();
    auto* img = &opened->img;
    if (opened->info.role == ImageRole::non_primary)
      return fail(Errc::failed_precondition,
                  image_what(image, "write") + ": non-primary (a read-only replica)");
    std::size_t done = 0;
    while (done < data.size()) {
      const std::size_t n = std::min(kIoChunk, data.size() - done);
      const auto w = rbd_write(img->get(), offset + done, n,
                               reinterpret_cast<const char*>(data.data() + done));
      if (w < 0) return from_errno(static_cast<int>(w), image_what(image, "write"));
      done += static_cast<std::size_t>(w);
    }
    return {};
  }

  Result<std::string> checksum(const ImageSpec& image) override {
    auto io = open_pool(image.pool, "open image");
    if (!io) return io.error();
    auto img = open_image(*io, image, true);
    if (!img) return img.error();
    std::uint64_t size = 0;
    if (const int r = rbd_get_size(img->get(), &size); r < 0)
      return from_errno(r, image_what(image, "get size"));
    // Not cryptographic: it proves that bytes arrived unchanged, not that nobody tampered.
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ size;
    std::vector<char> buf(kIoChunk);
    for (std::uint64_t off = 0; off < size;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kIoChunk, size - off));
      const auto r = rbd_read(img->get(), off, n, buf.data());
      if (r < 0) return from_errno(static_cast<int>(r), image_what(image, "read"));
      if (static_cast<std::size_t>(r) != n)
        return fail(Errc::internal, image_what(image, "read") + ": short read");
      for (std::size_t i = 0; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, buf.data() + i, 8);
        h = std::rotl(h ^ w, 29) * 0xBF58476D1CE4E5B9ull;
      }
      for (std::size_t i = n - n % 8; i < n; ++i)
        h = std::rotl(h ^ static_cast<unsigned char>(buf[i]), 29) * 0xBF58476D1CE4E5B9ull;
      off += n;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016" PRIx64, h);
    return std::string(hex);
  }

  Result<std::uint64_t> copy_image(const ImageSpec& source, const ImageSpec& target,
                                   std::stop_token stop) override {
    const auto what = image_what(source, "copy") + " to " + to_string(target);
    auto src_io = open_pool(source.pool, "copy image");
    if (!src_io) return src_io.error();
    auto src = open_image(*src_io, source, true);
    if (!src) return src.error();
    rbd_image_info_t info{};
    if (const int r = rbd_stat(src->get(), &info, sizeof info); r < 0)
      return from_errno(r, what + " (stat)");
    // What the source has allocated, as whole objects: reading those reads every written byte.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> extents;
    const auto collect = [](std::uint64_t off, std::size_t len, int exists, void* arg) {
      if (exists) static_cast<decltype(extents)*>(arg)->emplace_back(off, len);
      return 0;
    };
    if (const int r = rbd_diff_iterate2(src->get(), nullptr, 0, info.size, 1, 1, collect, &extents);
        r < 0) {
      return from_errno(r, what + " (list allocated extents)");
    }
    auto dst_io = open_pool(target.pool, "copy image");
    if (!dst_io) return dst_io.error();
    rbd_image_options_t opts;
    rbd_image_options_create(&opts);
    rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_ORDER,
                                 static_cast<std::uint64_t>(info.order));
    const int created = rbd_create4(dst_io->get(), target.image.c_str(), info.size, opts);
    rbd_image_options_destroy(opts);
    if (created < 0) return from_errno(created, what + " (create the copy)");
    auto copied = [&]() -> Result<std::uint64_t> {
      auto dst = open_image(*dst_io, target, false);
      if (!dst) return dst.error();
      std::vector<char> buf(kIoChunk);
      std::uint64_t written = 0;
      for (const auto& [start, length] : extents) {
        for (std::uint64_t off = start; off < start + length;) {
          if (stop.stop_requested()) return fail(Errc::aborted, what + ": stopped");
          const auto n =
              static_cast<std::size_t>(std::min<std::uint64_t>(kIoChunk, start + length - off));
          const auto r = rbd_read(src->get(), off, n, buf.data());
          if (r < 0) return from_errno(static_cast<int>(r), what + " (read)");
          if (static_cast<std::size_t>(r) != n) return fail(Errc::internal, what + ": short read");
          // A fresh image reads as zeros: zero stretches of 64 KiB stay unwritten (thin), each
          // run of the others is one write.
          constexpr std::size_t kBlock = 64u << 10;
          const auto zero = [&](std::size_t at) {
            const char* b = buf.data() + at;
            return std::all_of(b, b + std::min(kBlock, n - at), [](char c) { return c == 0; });
          };
          for (std::size_t at = 0; at < n;) {
            if (zero(at)) {
              at += kBlock;
              continue;
            }
            std::size_t end = at + kBlock;
            while (end < n && !zero(end)) end += kBlock;
            end = std::min(end, n);
            const auto w = rbd_write(dst->get(), off + at, end - at, buf.data() + at);
            if (w < 0) return from_errno(static_cast<int>(w), what + " (write)");
            written += end - at;
            at = end;
          }
          off += n;
        }
      }
      if (const int r = rbd_flush(dst->get()); r < 0) return from_errno(r, what + " (flush)");
      return written;
    }();
    if (!copied) (void)rbd_remove(dst_io->get(), target.image.c_str());
    return copied;
  }

  // ---- mirror pairs ----------------------------------------------------------------------

  Status enable_mirroring(const ImageSpec& image, MirrorMode mode) override {
    const auto what = image_what(image, "enable mirroring");
    auto opened = open_with_info(image, "enable mirroring", false);
    if (!opened) return opened.error();
    if (auto e = require_pool_mirroring(opened->io, image.pool, "enable image mirroring"); !e)
      return e.error();
    auto* img = &opened->img;
    const auto* info = &opened->info;
    if (info->disabling)
      return fail(Errc::unavailable, what + ": mirroring is still being disabled; retry");
    if (info->role != ImageRole::not_mirrored) {
      if (info->mode == mode) return {};
      return fail(Errc::failed_precondition,
                  what + ": already mirrored in " + to_string(info->mode) + " mode");
    }
    if (mode == MirrorMode::journal) {
      std::uint64_t features = 0;
      if (const int r = rbd_get_features(img->get(), &features); r < 0)
        return from_errno(r, what + ": get features");
      if ((features & RBD_FEATURE_JOURNALING) == 0) {
        if (const int r = rbd_update_features(img->get(), RBD_FEATURE_JOURNALING, 1); r < 0)
          return from_errno(r, what + ": enable journaling");
      }
    }
    const int r = rbd_mirror_image_enable2(img->get(), mode == MirrorMode::snapshot
                                                           ? RBD_MIRROR_IMAGE_MODE_SNAPSHOT
                                                           : RBD_MIRROR_IMAGE_MODE_JOURNAL);
    if (r < 0) return from_errno(r, what);
    return {};
  }

  Status disable_mirroring(const ImageSpec& image, bool force) override {
    auto opened = open_with_info(image, "disable mirroring", false);
    if (!opened) return opened.error();
    auto* img = &opened->img;
    const auto* info = &opened->info;
    if (info->role == ImageRole::not_mirrored && !info->disabling) return {};
    if (info->role == ImageRole::non_primary && !force)
      return fail(Errc::failed_precondition, image_what(image, "disable mirroring") +
                                                 ": non-primary copy; disabling it needs force");
    const int r = rbd_mirror_image_disable(img->get(), force);
    if (r < 0) return from_errno(r, image_what(image, "disable mirroring"));
    return {};
  }

  Result<ImageMirrorInfo> mirror_info(const ImageSpec& image) override {
    auto io = open_pool(image.pool, "open image");
    if (!io) return io.error();
    auto img = open_image(*io, image, true);
    if (!img) return img.error();
    return read_info(*img, image);
  }

  Result<ImageMirrorStatus> mirror_status(const ImageSpec& image) override {
    auto opened = open_with_info(image, "open image", true);
    if (!opened) return opened.error();
    auto* img = &opened->img;
    const auto* info = &opened->info;
    ImageMirrorStatus out{image, *info, {}, std::nullopt};
    if (info->role == ImageRole::not_mirrored) return out;

    rbd_mirror_image_global_status_t st;
    if (const int r = rbd_mirror_image_get_global_status(img->get(), &st, sizeof st); r < 0)
      return from_errno(r, image_what(image, "get mirror status"));
    auto peers = list_peers(image.pool);
    for (std::uint32_t i = 0; i < st.site_statuses_count; ++i) {
      const auto& s = st.site_statuses[i];
      SiteReplayStatus site;
      site.mirror_uuid = s.mirror_uuid ? s.mirror_uuid : "";
      if (peers && !site.mirror_uuid.empty()) {
        for (const auto& p : *peers)
          if (p.mirror_uuid == site.mirror_uuid) site.site_name = p.site_name;
      }
      site.state = from_rbd(s.state);
      site.description = s.description ? s.description : "";
      site.last_update = SystemTime{std::chrono::seconds(s.last_update)};
      site.up = s.up;
      if (auto t = parse_remote_snapshot_timestamp(site.description))
        out.last_sync = std::max(out.last_sync.value_or(SystemTime{}), *t);
      out.sites.push_back(std::move(site));
    }
    rbd_mirror_image_global_status_cleanup(&st);
    return out;
  }

  Result<std::vector<MirrorSnapshot>> mirror_snapshots(const ImageSpec& image) override {
    auto io = open_pool(image.pool, "open image");
    if (!io) return io.error();
    auto img = open_image(*io, image, true);
    if (!img) return img.error();
    return read_snapshots(*img, image);
  }

  Result<MirrorSnapshotRef> create_mirror_snapshot(const ImageSpec& image) override {
    const auto what = image_what(image, "create mirror snapshot");
    auto opened = open_with_info(image, "create mirror snapshot", false);
    if (!opened) return opened.error();
    auto* img = &opened->img;
    const auto* info = &opened->info;
    if (info->role != ImageRole::primary)
      return fail(Errc::failed_precondition,
                  what + ": the image is " + to_string(info->role) + " here, not primary");
    auto uuid = image_mirror_uuid(image);
    if (!uuid) return uuid.error();
    if (info->mode != MirrorMode::snapshot)
      return fail(Errc::invalid_argument, what + ": the image mirrors in journal mode");
    std::uint64_t snap_id = 0;
    if (const int r = rbd_mirror_image_create_snapshot(img->get(), &snap_id); r < 0)
      return from_errno(r, what);
    return MirrorSnapshotRef{std::move(*uuid), snap_id};
  }

  Status wait_for_snapshot(const ImageSpec& image, const MirrorSnapshotRef& snapshot,
                           Deadline deadline) override {
    const auto what = image_what(image, "wait for mirror snapshot") + " " +
                      snapshot.source_mirror_uuid + "/" + std::to_string(snapshot.snap_id);
    auto io = open_pool(image.pool, "wait for mirror snapshot");
    if (!io) return io.error();
    std::string last_seen = "nothing observed";
    while (true) {
      // A fresh handle per look: a long-lived one would show a cached snapshot list.
      RbdImage img;
      const int r = rbd_open_read_only(io->get(), image.image.c_str(), img.out(), nullptr);
      if (r == -ENOENT) {
        last_seen = "the image does not exist (yet)";
      } else if (r < 0) {
        return from_errno(r, what);
      } else {
        auto info = read_info(img, image);
        if (!info) return info.error();
        if (info->role == ImageRole::primary)
          return fail(Errc::failed_precondition, what + ": the image is primary here");
        auto snaps = read_snapshots(img, image);
        if (!snaps) return snaps.error();
        const MirrorSnapshot* copy = nullptr;
        for (const auto& s : *snaps)
          if (s.copies(snapshot)) copy = &s;
        if (copy != nullptr && copy->complete) return {};
        last_seen = copy != nullptr  ? "copy in progress: " + describe(*copy)
                    : snaps->empty() ? "no mirror snapshot"
                                     : "newest here: " + describe(snaps->back());
      }
      if (std::chrono::steady_clock::now() + kPollInterval > deadline)
        return fail(Errc::deadline_exceeded,
                    what + ": not complete by the deadline (" + last_seen + ")");
      std::this_thread::sleep_for(kPollInterval);
    }
  }

  // ---- roles -----------------------------------------------------------------------------

  Result<MirrorSnapshotRef> demote(const ImageSpec& image) override {
    const auto what = image_what(image, "demote");
    auto opened = open_with_info(image, "demote", false);
    if (!opened) return opened.error();
    auto* img = &opened->img;
    const auto* info = &opened->info;
    auto& io = opened->io;
    if (info->role != ImageRole::primary)
      return fail(Errc::failed_precondition,
                  what + ": the image is " + to_string(info->role) + " here, not primary");
    auto uuid = image_mirror_uuid(image);
    if (!uuid) return uuid.error();
    if (const int r = rbd_mirror_image_demote(img->get()); r < 0) return from_errno(r, what);
    if (info->mode == MirrorMode::journal) return MirrorSnapshotRef{std::move(*uuid), 0};
    // The demotion snapshot is the newest one; a fresh handle sees it.
    RbdImage fresh;
    if (const int r = rbd_open_read_only(io.get(), image.image.c_str(), fresh.out(), nullptr);
        r < 0)
      return from_errno(r, what + ": reopen");
    auto snaps = read_snapshots(fresh, image);
    if (!snaps) return snaps.error();
    if (snaps->empty() || snaps->back().state != MirrorSnapshotState::primary_demoted)
      return fail(Errc::internal, what + ": no demotion snapshot after demote");
    return MirrorSnapshotRef{std::move(*uuid), snaps->back().id};
  }

  Status promote(const ImageSpec& image, Promotion kind) override {
    const auto what = image_what(image, kind == Promotion::forced ? "forced promote" : "promote");
    auto opened = open_with_info(image, "promote", false);
    if (!opened) return opened.error();
    auto* img = &opened->img;
    const auto* info = &opened->info;
    if (info->role == ImageRole::primary)
      return fail(Errc::failed_precondition, what + ": the image is already primary here");
    if (info->role == ImageRole::not_mirrored)
      return fail(Errc::failed_precondition, what + ": the image is not mirrored");
    if (kind == Promotion::planned && info->mode == MirrorMode::snapshot) {
      // librbd accepts a planned promote as soon as the peer is no longer primary, even before
      // the demotion snapshot arrived here; what was not copied yet is then lost and the pair
      // ends in a split brain. So: only with a complete copy of the peer's demotion as the
      // newest snapshot, or with our own demotion as the newest (we were primary last).
      auto snaps = read_snapshots(*img, image);
      if (!snaps) return snaps.error();
      const bool ready =
          !snaps->empty() && ((snaps->back().state == MirrorSnapshotState::non_primary_demoted &&
                               snaps->back().complete) ||
                              snaps->back().state == MirrorSnapshotState::primary_demoted);
      if (!ready)
        return fail(Errc::failed_precondition,
                    what + ": the peer's demotion has not arrived here (newest: " +
                        (snaps->empty() ? std::string("none") : describe(snaps->back())) + ")");
    }
    // Right after the demotion arrived, the local rbd-mirror still holds the image's exclusive
    // lock until its replayer has shut down, and refuses to hand it over to a planned promote
    // (-EROFS). That lasts a second or two: retried here, bounded.
    const auto give_up = std::chrono::steady_clock::now() + kPromoteLockWait;
    while (true) {
      const int r = rbd_mirror_image_promote(img->get(), kind == Promotion::forced);
      if (r == 0) return {};
      if (r != -EROFS || std::chrono::steady_clock::now() + kPollInterval > give_up) {
        auto e = from_errno(r, what);
        if (r == -EROFS) {
          e.code = Errc::unavailable;
          e.message += ": the local rbd-mirror still holds the image; retry";
        }
        return e;
      }
      std::this_thread::sleep_for(kPollInterval);
    }
  }

  Status resync(const ImageSpec& image) override {
    const auto what = image_what(image, "resync");
    auto opened = open_with_info(image, "resync", false);
    if (!opened) return opened.error();
    auto* img = &opened->img;
    const auto* info = &opened->info;
    if (info->role != ImageRole::non_primary)
      return fail(Errc::failed_precondition,
                  what + ": the image is " + to_string(info->role) + " here; demote it first");
    if (const int r = rbd_mirror_image_resync(img->get()); r < 0) return from_errno(r, what);
    return {};
  }

  Result<ReplicationLag> replication_lag(const ImageSpec& image) override {
    auto opened = open_with_info(image, "open image", true);
    if (!opened) return opened.error();
    auto* img = &opened->img;
    const auto* info = &opened->info;
    if (info->role != ImageRole::non_primary)
      return fail(Errc::failed_precondition, image_what(image, "replication lag") +
                                                 ": the image is " + to_string(info->role) +
                                                 " here; lag is measured at the non-primary copy");
    auto snaps = read_snapshots(*img, image);
    if (!snaps) return snaps.error();
    ReplicationLag lag;
    for (auto it = snaps->rbegin(); it != snaps->rend(); ++it) {
      if (it->is_primary() || !it->complete) continue;
      lag.newest_synced = MirrorSnapshotRef{it->primary_mirror_uuid, it->primary_snap_id};
      lag.synced_as_of = it->created;
      lag.age = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now() - it->created);
      break;
    }
    return lag;
  }

 private:
  Result<OpenedImage> open_with_info(const ImageSpec& image, const char* op, bool read_only) {
    auto io = open_pool(image.pool, op);
    if (!io) return io.error();
    auto img = open_image(*io, image, read_only);
    if (!img) return img.error();
    auto info = read_info(*img, image);
    if (!info) return info.error();
    return OpenedImage{std::move(*io), std::move(*img), std::move(*info)};
  }

  Result<std::vector<PoolSpace>> list_pools() override {
    const std::string what = "ceph cluster: list pools";
    std::vector<char> names(4096);
    int r = rados_pool_list(cluster_.get(), names.data(), names.size());
    if (r > static_cast<int>(names.size())) {
      names.resize(static_cast<std::size_t>(r));
      r = rados_pool_list(cluster_.get(), names.data(), names.size());
    }
    if (r < 0) return from_errno(r, what);
    rados_cluster_stat_t cluster{};
    if (const int s = rados_cluster_stat(cluster_.get(), &cluster); s < 0) {
      return from_errno(s, what + " (cluster stat)");
    }
    std::vector<PoolSpace> out;
    for (const char* p = names.data(); p < names.data() + names.size() && *p != '\0';
         p += std::strlen(p) + 1) {
      const std::string name(p);
      if (name.starts_with('.')) continue;  // Ceph's own pools (.mgr)
      out.push_back({name, cluster.kb_avail * 1024});
    }
    return out;
  }

  // The pool spec's namespace (or the pool's default one): where its images and mirror mode are.
  Result<IoContext> open_pool(const std::string& pool, const char* op) {
    const auto spec = parse_pool_spec(pool);
    IoContext io;
    const int r = rados_ioctx_create(cluster_.get(), spec.pool.c_str(), io.out());
    if (r < 0) return from_errno(r, pool_what(pool, op));
    if (!spec.rbd_namespace.empty()) rados_ioctx_set_namespace(io.get(), spec.rbd_namespace.c_str());
    return io;
  }

  // The uuid naming this site in the mirror snapshots of `image`, a mirrored image (so its pool
  // mirrors: no mode check, one read fewer than mirror_uuid()).
  Result<std::string> image_mirror_uuid(const ImageSpec& image) {
    auto io = open_base_pool(image.pool, "get mirror uuid");
    if (!io) return io.error();
    return read_mirror_uuid(*io, image.pool);
  }

  // `io`: the pool's default namespace (open_base_pool).
  Result<std::string> read_mirror_uuid(const IoContext& io, const std::string& pool) {
    return read_string(
        [&](char* buf, std::size_t* len) { return rbd_mirror_uuid_get(io.get(), buf, len); },
        pool_what(pool, "get mirror uuid"));
  }

  // The pool of a pool spec, whatever its namespace: where the peers, the bootstrap tokens and
  // the mirror uuid are (a namespace's own uuid names nothing its peers see).
  Result<IoContext> open_base_pool(const std::string& pool, const char* op) {
    return open_pool(parse_pool_spec(pool).pool, op);
  }

  // For a namespace: creates it if absent, once its pool mirrors (librbd refuses a namespace's
  // mirror mode otherwise). Nothing for a pool.
  Status prepare_namespace(const std::string& pool) {
    const auto spec = parse_pool_spec(pool);
    if (spec.rbd_namespace.empty()) return {};
    const char* op = "enable mirroring";
    auto base = open_pool(spec.pool, op);
    if (!base) return base.error();
    auto mode = pool_mode(*base, spec.pool);
    if (!mode) return mode.error();
    if (*mode != RBD_MIRROR_MODE_IMAGE) {
      return fail(Errc::failed_precondition,
                  pool_what(pool, op) + ": pool '" + spec.pool +
                      "' does not mirror in image mode; enable that first (its namespaces "
                      "mirror through the pool's peers)");
    }
    bool exists = false;
    if (const int r = rbd_namespace_exists(base->get(), spec.rbd_namespace.c_str(), &exists); r < 0)
      return from_errno(r, pool_what(pool, "look up namespace"));
    if (exists) return {};
    const int r = rbd_namespace_create(base->get(), spec.rbd_namespace.c_str());
    if (r < 0 && r != -EEXIST) return from_errno(r, pool_what(pool, "create namespace"));
    return {};
  }

  Result<RbdImage> open_image(const IoContext& io, const ImageSpec& image, bool read_only) {
    RbdImage img;
    const int r = read_only ? rbd_open_read_only(io.get(), image.image.c_str(), img.out(), nullptr)
                            : rbd_open(io.get(), image.image.c_str(), img.out(), nullptr);
    if (r < 0) return from_errno(r, image_what(image, "open"));
    return img;
  }

  Result<rbd_mirror_mode_t> pool_mode(const IoContext& io, const std::string& pool) {
    rbd_mirror_mode_t mode = RBD_MIRROR_MODE_DISABLED;
    if (const int r = rbd_mirror_mode_get(io.get(), &mode); r < 0)
      return from_errno(r, pool_what(pool, "get mirror mode"));
    return mode;
  }

  Status require_pool_mirroring(const IoContext& io, const std::string& pool, const char* op) {
    auto mode = pool_mode(io, pool);
    if (!mode) return mode.error();
    if (*mode == RBD_MIRROR_MODE_DISABLED)
      return fail(Errc::failed_precondition, pool_what(pool, op) + ": mirroring is disabled");
    return {};
  }

  Result<ImageMirrorInfo> read_info(const RbdImage& img, const ImageSpec& image) {
    rbd_mirror_image_info_t info;
    if (const int r = rbd_mirror_image_get_info(img.get(), &info, sizeof info); r < 0)
      return from_errno(r, image_what(image, "get mirror info"));
    ImageMirrorInfo out;
    out.global_id = info.global_id ? info.global_id : "";
    out.disabling = info.state == RBD_MIRROR_IMAGE_DISABLING;
    if (info.state == RBD_MIRROR_IMAGE_ENABLED)
      out.role = info.primary ? ImageRole::primary : ImageRole::non_primary;
    rbd_mirror_image_get_info_cleanup(&info);
    if (out.role != ImageRole::not_mirrored) {
      rbd_mirror_image_mode_t mode = RBD_MIRROR_IMAGE_MODE_SNAPSHOT;
      if (const int r = rbd_mirror_image_get_mode(img.get(), &mode); r < 0)
        return from_errno(r, image_what(image, "get mirror mode"));
      out.mode = mode == RBD_MIRROR_IMAGE_MODE_JOURNAL ? MirrorMode::journal : MirrorMode::snapshot;
    }
    return out;
  }

  Result<std::vector<MirrorSnapshot>> read_snapshots(const RbdImage& img, const ImageSpec& image) {
    const auto what = image_what(image, "list snapshots");
    std::vector<rbd_snap_info_t> infos(16);
    int max = static_cast<int>(infos.size());
    int n = rbd_snap_list(img.get(), infos.data(), &max);
    if (n == -ERANGE) {
      infos.resize(static_cast<std::size_t>(max));
      n = rbd_snap_list(img.get(), infos.data(), &max);
    }
    if (n < 0) return from_errno(n, what);
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < n; ++i) ids.push_back(infos[static_cast<std::size_t>(i)].id);
    rbd_snap_list_end(infos.data());

    std::vector<MirrorSnapshot> out;
    for (const auto id : ids) {
      rbd_snap_namespace_type_t type;
      int r = rbd_snap_get_namespace_type(img.get(), id, &type);
      if (r == -ENOENT) continue;  // removed meanwhile (rbd-mirror prunes old snapshots)
      if (r < 0) return from_errno(r, what);
      if (type != RBD_SNAP_NAMESPACE_TYPE_MIRROR) continue;
      rbd_snap_mirror_namespace_t ns;
      r = rbd_snap_get_mirror_namespace(img.get(), id, &ns, sizeof ns);
      if (r == -ENOENT) continue;
      if (r < 0) return from_errno(r, what);
      MirrorSnapshot s;
      s.id = id;
      s.state = from_rbd(ns.state);
      s.complete = ns.complete;
      s.primary_mirror_uuid = ns.primary_mirror_uuid ? ns.primary_mirror_uuid : "";
      s.primary_snap_id = ns.primary_snap_id;
      // mirror_peer_uuids: `count` NUL-terminated strings back to back.
      const char* p = ns.mirror_peer_uuids;
      for (std::size_t k = 0; p != nullptr && k < ns.mirror_peer_uuids_count; ++k) {
        s.peer_uuids.emplace_back(p);
        p += s.peer_uuids.back().size() + 1;
      }
      rbd_snap_mirror_namespace_cleanup(&ns, sizeof ns);
      timespec ts{};
      if (rbd_snap_get_timestamp(img.get(), id, &ts) == 0) s.created = to_system_time(ts);
      out.push_back(std::move(s));
    }
    std::sort(out.begin(), out.end(),
              [](const MirrorSnapshot& a, const MirrorSnapshot& b) { return a.id < b.id; });
    return out;
  }

  RadosCluster cluster_;
};

}  // namespace

Result<std::unique_ptr<MirrorStorage>> open_rbd_mirror_storage(const CephSiteConfig& config) {
  const auto what = "ceph cluster (" + config.conf_path + ", client." + config.client_id + ")";
  RadosCluster cluster;
  if (const int r = rados_create(cluster.out(), config.client_id.c_str()); r < 0)
    return from_errno(r, what + ": create handle");
  if (const int r = rados_conf_read_file(cluster.get(), config.conf_path.c_str()); r < 0)
    return from_errno(r, what + ": read conf");
  if (const int r = rados_connect(cluster.get()); r < 0) {
    auto e = from_errno(r, what + ": connect");
    if (r == -ETIMEDOUT) e.code = Errc::unavailable;
    return e;
  }
  return std::unique_ptr<MirrorStorage>(std::make_unique<RbdMirrorStorage>(std::move(cluster)));
}

}  // namespace dr::storage
