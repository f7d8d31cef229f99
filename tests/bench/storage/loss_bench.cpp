// The data a disaster actually loses (RPO, measured rather than inferred from lag): writers stamp
// every block they write into an app's images at site-a with a sequence number and the time
// (each image held open by one librbd client that owns its exclusive lock, as QEMU does, so a
// mirror snapshot is forwarded to the writer and cuts its I/O at one point); site-a is killed
// while they write (deploy/ceph-pair.sh stop-site site-a --kill, a power loss); every image is
// force-promoted at site-b, as the DR agent does; each image is read back at site-b with Ceph's
// own `rbd export`, and the newest stamp that survived, against the newest write site-a had
// acknowledged, says how many seconds of acknowledged writes were lost.
//
// Snapshot mode takes its mirror snapshots in rounds, every image of the app at once, as the
// agents' schedule does (workflow/snapshot_schedule.hpp); journal mode takes none (rbd-mirror
// replays each image's journal). Also printed: the spread of the surviving points across the
// images (how far apart in time the app's disks are after the failover), the forced promote's
// time, and the cost: the CPU the two rbd-mirror daemons used while writing, and the bytes each
// site's OSD was asked to write beside the bytes the app wrote.
//
//   storage_loss_bench [--dir DRPAIR_CEPH_DIR] [--images N] [--writes-per-second W]
//                      [--seconds S] [--run snapshot:INTERVAL | --run journal]...
//   default: --images 3 --writes-per-second 50 --seconds 30
//            --run snapshot:2 --run snapshot:5 --run snapshot:10 --run journal
// Needs a Ceph pair made by deploy/ceph-pair.sh up (site-a is killed and started again per run).
#include <rados/librados.h>
#include <rbd/librbd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "daemon_cpu.hpp"
#include "flags.hpp"
#include "storage/rbd_mirror_storage.hpp"
#include "workflow/parallel.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Wall = std::chrono::system_clock;
using dr::storage::ImageSpec;
using dr::storage::MirrorMode;
using dr::storage::MirrorStorage;

constexpr std::size_t kBlock = 4096;
constexpr std::uint64_t kImageBytes = 8u << 20;
constexpr std::uint64_t kMagic = 0x6472706169724c53ull;  // "drpairLS"

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "storage_loss_bench: %s\n", what.c_str());
  std::exit(1);
}
template <class T>
T must(dr::Result<T> r, const std::string& what) {
  if (!r) die(what + ": " + r.error().message);
  return std::move(*r);
}
void must(dr::Status r, const std::string& what) {
  if (!r) die(what + ": " + r.error().message);
}
double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Wall::now().time_since_epoch())
      .count();
}

struct Stamp {
  std::uint64_t seq = 0;
  std::int64_t at_ns = 0;  // wall clock when written
};

// The block a writer writes as write number `seq`: the stamp at its head, the rest filled.
std::vector<std::byte> stamped_block(const Stamp& s) {
  std::vector<std::byte> block(kBlock, std::byte{0x5a});
  std::memcpy(block.data(), &kMagic, 8);
  std::memcpy(block.data() + 8, &s.seq, 8);
  std::memcpy(block.data() + 16, &s.at_ns, 8);
  return block;
}

// The newest stamp in an image at the site, read with `rbd export` (Ceph's client, not ours).
Stamp newest_stamp(const std::string& conf, const ImageSpec& image) {
  const std::string cmd = "rbd -c " + conf + " export --no-progress " +
                          dr::storage::to_string(image) + " - 2>/dev/null";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) die("cannot run: " + cmd);
  Stamp newest;
  std::vector<char> block(kBlock);
  while (std::fread(block.data(), 1, kBlock, pipe) == kBlock) {
    std::uint64_t magic = 0;
    Stamp s;
    std::memcpy(&magic, block.data(), 8);
    std::memcpy(&s.seq, block.data() + 8, 8);
    std::memcpy(&s.at_ns, block.data() + 16, 8);
    if (magic == kMagic && s.seq >= newest.seq) newest = s;
  }
  if (::pclose(pipe) != 0) die("failed: " + cmd);
  return newest;
}

// One image open for writing through its own librbd client, as a VM's disk is.
class OpenImage {
 public:
  OpenImage(const std::string& conf, const ImageSpec& image) {
    const auto check = [&](int r, const char* what) {
      if (r < 0) die(dr::storage::to_string(image) + ": " + what + ": " + std::strerror(-r));
    };
    check(rados_create(&cluster_, "admin"), "rados_create");
    check(rados_conf_read_file(cluster_, conf.c_str()), "read conf");
    check(rados_connect(cluster_), "connect");
    check(rados_ioctx_create(cluster_, image.pool.c_str(), &io_), "open pool");
    check(rbd_open(io_, image.image.c_str(), &img_, nullptr), "open image");
  }
  ~OpenImage() {
    if (img_ != nullptr) rbd_close(img_);
    if (io_ != nullptr) rados_ioctx_destroy(io_);
    if (cluster_ != nullptr) rados_shutdown(cluster_);
  }
  OpenImage(const OpenImage&) = delete;
  OpenImage& operator=(const OpenImage&) = delete;

  // true once the cluster has acknowledged the write.
  bool write(std::uint64_t offset, const std::vector<std::byte>& block) {
    return rbd_write(img_, offset, block.size(), reinterpret_cast<const char*>(block.data())) ==
           static_cast<ssize_t>(block.size());
  }

 private:
  rados_t cluster_ = nullptr;
  rados_ioctx_t io_ = nullptr;
  rbd_image_t img_ = nullptr;
};

// Bytes the site's OSD has been asked to write (its op_w_in_bytes counter): with site-b's, what
// replication cost in bytes; with site-a's, what the app's writes cost there (a journal doubles
// them).
double osd_written_mib(const std::string& dir, const std::string& site) {
  const std::string cmd =
      "ceph --admin-daemon " + dir + "/" + site + "/run/osd.0.asok perf dump 2>/dev/null";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) die("cannot run: " + cmd);
  std::string text;
  char chunk[4096];
  for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0;) text.append(chunk, n);
  ::pclose(pipe);
  const std::string key = "\"op_w_in_bytes\": ";
  const auto at = text.find(key);
  if (at == std::string::npos) die("no op_w_in_bytes in: " + cmd);
  return std::stod(text.substr(at + key.size())) / (1 << 20);
}

void pair_script(const std::string& args) {
  const std::string cmd =
      std::string(DR_SOURCE_DIR) + "/deploy/ceph-pair.sh " + args + " >/dev/null";
  if (std::system(cmd.c_str()) != 0) die("failed: " + cmd);
}

struct Run {
  MirrorMode mode = MirrorMode::snapshot;
  int interval_s = 0;  // snapshot mode: seconds between rounds
};

struct Outcome {
  std::vector<double> lost_s;  // per image: seconds of writes lost
  double spread_s = 0;         // newest surviving write, newest minus oldest across images
  double promote_s = 0;
  int rounds = 0;
  double round_call_max_s = 0;
  std::uint64_t writes = 0;
  double mirror_cpu = 0;  // fraction of a core, both daemons, while writing
  double app_mib = 0;     // what the writers wrote
  double osd_a_mib = 0;   // written into site-a's OSD meanwhile
  double osd_b_mib = 0;   // written into site-b's OSD meanwhile (the replication)
};

Outcome run_one(const std::string& dir, const Run& run, int images_n, int writes_per_s, int seconds,
                int serial) {
  const std::string conf_a = dir + "/site-a/ceph.conf", conf_b = dir + "/site-b/ceph.conf";
  auto a = must(dr::storage::open_rbd_mirror_storage({conf_a, "admin"}), "site-a");
  auto b = must(dr::storage::open_rbd_mirror_storage({conf_b, "admin"}), "site-b");
  must(a->enable_pool_mirroring("rbd"), "pool mirroring at site-a");
  must(b->enable_pool_mirroring("rbd"), "pool mirroring at site-b");
  if (must(b->list_peers("rbd"), "peers").empty()) {
    auto token = must(a->create_bootstrap_token("rbd"), "token");
    must(b->import_bootstrap_token("rbd", token, dr::storage::PeerDirection::rx_tx), "import");
  }
  std::vector<ImageSpec> images;
  for (int i = 0; i < images_n; ++i) {
    images.push_back({"rbd", "loss-" + std::to_string(serial) + "-" + std::to_string(i)});
    must(a->create_image(images.back(), kImageBytes), "create");
    must(a->enable_mirroring(images.back(), run.mode), "enable mirroring");
  }
  // Each copy complete at site-b before the clock starts.
  for (const auto& image : images) {
    const auto deadline = Clock::now() + 120s;
    if (run.mode == MirrorMode::snapshot) {
      const auto first = must(a->create_mirror_snapshot(image), "first snapshot");
      must(b->wait_for_snapshot(image, first, deadline), "first sync");
    } else {
      while (!must(b->image_exists(image), "exists at site-b")) {
        if (Clock::now() > deadline) die("journal copy never appeared at site-b");
        std::this_thread::sleep_for(200ms);
      }
    }
  }

  Outcome out;
  std::atomic<bool> stop{false};
  // Per image: when the newest write the cluster acknowledged was made (its stamp).
  std::vector<std::atomic<std::int64_t>> last_acked(images.size());
  std::atomic<std::uint64_t> writes{0};
  const double cpu0 =
      dr::bench::mirror_cpu_seconds(dir, "site-a") + dr::bench::mirror_cpu_seconds(dir, "site-b");
  const double osd_a0 = osd_written_mib(dir, "site-a"), osd_b0 = osd_written_mib(dir, "site-b");
  const auto start = Clock::now();
  std::vector<std::jthread> writers;
  for (std::size_t i = 0; i < images.size(); ++i) {
    writers.emplace_back([&, i] {
      OpenImage disk(conf_a, images[i]);
      const auto period = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(1.0 / writes_per_s));
      auto next = Clock::now();
      for (std::uint64_t seq = 1; !stop; ++seq) {
        const Stamp s{seq, wall_ns()};
        const auto offset = ((seq - 1) % (kImageBytes / kBlock)) * kBlock;
        if (!disk.write(offset, stamped_block(s))) break;  // the site is gone
        last_acked[i] = s.at_ns;
        ++writes;
        next += period;
        std::this_thread::sleep_until(next);
      }
    });
  }
  if (run.mode == MirrorMode::snapshot) {
    for (auto next = start + std::chrono::seconds(run.interval_s);
         next < start + std::chrono::seconds(seconds);
         next += std::chrono::seconds(run.interval_s)) {
      std::this_thread::sleep_until(next);
      const auto t0 = Clock::now();
      const auto taken = dr::workflow::parallel_map(images_n, images, [&](const ImageSpec& image) {
        return a->create_mirror_snapshot(image);
      });
      for (const auto& t : taken) must(t, "snapshot");
      out.round_call_max_s = std::max(out.round_call_max_s, secs(Clock::now() - t0));
      ++out.rounds;
    }
  }
  std::this_thread::sleep_until(start + std::chrono::seconds(seconds));
  // The site dies while the writers write: what was acknowledged by then had to survive.
  out.osd_a_mib = osd_written_mib(dir, "site-a") - osd_a0;
  out.mirror_cpu = (dr::bench::mirror_cpu_seconds(dir, "site-a") +
                    dr::bench::mirror_cpu_seconds(dir, "site-b") - cpu0) /
                   secs(Clock::now() - start);
  a.reset();
  pair_script("stop-site site-a --kill");
  stop = true;  // the writers stay blocked in their last write until site-a is back (below)
  std::vector<std::int64_t> acked;
  for (const auto& at : last_acked) acked.push_back(at.load());
  out.writes = writes;
  out.app_mib = static_cast<double>(writes.load()) * kBlock / (1 << 20);

  const auto t0 = Clock::now();
  const auto promoted = dr::workflow::parallel_map(images_n, images, [&](const ImageSpec& image) {
    return b->promote(image, dr::storage::Promotion::forced);
  });
  for (const auto& p : promoted) must(p, "forced promote");
  out.promote_s = secs(Clock::now() - t0);
  out.osd_b_mib = osd_written_mib(dir, "site-b") - osd_b0;

  std::int64_t newest = 0, oldest = 0;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const auto s = newest_stamp(conf_b, images[i]);
    if (s.seq == 0) die("no stamp survived at site-b in " + dr::storage::to_string(images[i]));
    out.lost_s.push_back(static_cast<double>(acked[i] - s.at_ns) / 1e9);
    newest = i == 0 ? s.at_ns : std::max(newest, s.at_ns);
    oldest = i == 0 ? s.at_ns : std::min(oldest, s.at_ns);
  }
  out.spread_s = static_cast<double>(newest - oldest) / 1e9;

  // Site-a back for the next run (the writers' last writes end); this run's images go at both
  // sites.
  pair_script("start-site site-a");
  writers.clear();
  a = must(dr::storage::open_rbd_mirror_storage({conf_a, "admin"}), "site-a again");
  for (const auto& image : images) {
    (void)b->disable_mirroring(image, true);
    (void)b->remove_image(image);
    (void)a->disable_mirroring(image, true);
    (void)a->remove_image(image);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string dir =
      std::getenv("DRPAIR_CEPH_DIR") ? std::getenv("DRPAIR_CEPH_DIR") : "/tmp/drpair-ceph";
  int images = 3, writes_per_s = 50, seconds = 30;
  std::vector<Run> runs;
  dr::bench::read_flags(argc, argv,
                        {{"--dir", &dir},
                         {"--images", &images},
                         {"--writes-per-second", &writes_per_s},
                         {"--seconds", &seconds},
                         {"--run", [&](const std::string& v) {
                            if (v == "journal") {
                              runs.push_back({MirrorMode::journal, 0});
                            } else if (v.rfind("snapshot:", 0) == 0) {
                              runs.push_back({MirrorMode::snapshot, std::stoi(v.substr(9))});
                            } else {
                              die("--run takes snapshot:SECONDS or journal, not '" + v + "'");
                            }
                          }}});
  if (runs.empty()) {
    runs = {{MirrorMode::snapshot, 2},
            {MirrorMode::snapshot, 5},
            {MirrorMode::snapshot, 10},
            {MirrorMode::journal, 0}};
  }
  if (images < 1 || writes_per_s < 1 || seconds < 5)
    die("--images, --writes-per-second >= 1, --seconds >= 5");
  std::printf(
      "%d images of 8 MiB, %d stamped 4 KiB writes per second each, %d s of writes, then "
      "site-a killed and every image force-promoted at site-b\n",
      images, writes_per_s, seconds);
  std::printf("%-13s %-22s %-9s %-10s %-13s %-7s %-15s %-24s\n", "mode", "lost s (worst/mean)",
              "spread s", "promote s", "round call s", "rounds", "rbd-mirror CPU",
              "MiB app / site-a / site-b");
  int serial = 0;
  for (const auto& run : runs) {
    const auto o = run_one(dir, run, images, writes_per_s, seconds, ++serial);
    const double worst = *std::max_element(o.lost_s.begin(), o.lost_s.end());
    double mean = 0;
    for (double l : o.lost_s) mean += l / static_cast<double>(o.lost_s.size());
    const std::string mode = run.mode == MirrorMode::journal
                                 ? std::string("journal")
                                 : "snapshot " + std::to_string(run.interval_s) + " s";
    std::printf(
        "%-13s %6.2f / %-13.2f %-9.2f %-10.2f %-13.2f %-7d %4.1f%% of a core   %.1f / %.1f / "
        "%.1f\n",
        mode.c_str(), worst, mean, o.spread_s, o.promote_s, o.round_call_max_s, o.rounds,
        100 * o.mirror_cpu, o.app_mib, o.osd_a_mib, o.osd_b_mib);
  }
  return 0;
}
