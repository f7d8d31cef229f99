// RPO of snapshot mirroring as drpair drives it: a writer fills the primary image at site-a at a
// steady rate while drpair's storage layer takes a mirror snapshot every N seconds; a sampler at
// site-b reads the newest snapshot complete there once a second. The DR copy's lag at a sample is
// the time since that snapshot was taken at site-a, and the bytes written at site-a since then.
// Also reported: how long the snapshot call takes, how long a snapshot takes to be complete at
// site-b, and the CPU the rbd-mirror daemons spent (the cost).
//
//   storage_rpo_bench [--dir DRPAIR_CEPH_DIR] [--rate MiB/s] [--run INTERVAL:SECONDS]...
//   default: --rate 4 --run 10:60 --run 60:150
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon_cpu.hpp"
#include "flags.hpp"
#include "storage/rbd_mirror_storage.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using dr::bench::mirror_cpu_seconds;
using dr::storage::ImageSpec;
using dr::storage::MirrorStorage;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "storage_rpo_bench: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T must(dr::Result<T> r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.error().message);
  return std::move(*r);
}
void must(dr::Status r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.error().message);
}

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct SnapRecord {
  dr::storage::MirrorSnapshotRef ref;
  Clock::time_point taken;       // when the call returned; its content is from up to
                                 // call_seconds earlier, which the lag figures leave out
  std::uint64_t bytes_at_taken;  // written by then
  double call_seconds;
  std::optional<Clock::time_point> complete_at_dr;
};

struct Summary {
  int interval;
  int samples = 0;
  double lag_mean = 0, lag_max = 0;
  double bytes_mean = 0, bytes_max = 0;
  double call_mean = 0, call_max = 0;
  double arrive_mean = 0, arrive_max = 0;
  int snapshots = 0, arrived = 0;
  double mib_per_s = 0;
  double mirror_cpu = 0;
};

Summary run(MirrorStorage& a, MirrorStorage& b, const ImageSpec& image, int interval_s, int run_s,
            double rate_mib, const std::string& dir) {
  constexpr std::size_t kBlock = 1u << 20;
  const std::uint64_t image_bytes = must(a.image_size(image), "size");
  std::atomic<std::uint64_t> written{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<SnapRecord> snaps;
  Summary sum{interval_s};
  const double cpu0 = mirror_cpu_seconds(dir, "site-a") + mirror_cpu_seconds(dir, "site-b");
  const auto start = Clock::now();

  std::thread writer([&] {
    std::vector<std::byte> block(kBlock);
    std::uint64_t x = 88172645463325252ull, offset = 0;
    const auto per_block = std::chrono::duration<double>(1.0 / (rate_mib));
    auto next = Clock::now();
    while (!stop) {
      for (auto& v : block) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v = static_cast<std::byte>(x);
      }
      must(a.write(image, offset, block), "write");
      written += kBlock;
      offset = (offset + kBlock) % image_bytes;
      next += std::chrono::duration_cast<Clock::duration>(per_block);
      std::this_thread::sleep_until(next);
    }
  });

  std::thread sampler([&] {
    auto next = Clock::now() + 1s;
    while (!stop) {
      std::this_thread::sleep_until(next);
      next += 1s;
      auto lag = b.replication_lag(image);
      if (!lag || !lag->newest_synced) continue;
      const auto now = Clock::now();
      std::lock_guard lock(mu);
      for (auto& s : snaps) {
        if (s.ref == *lag->newest_synced) {
          if (!s.complete_at_dr) s.complete_at_dr = now;
          const double l = secs(now - s.taken);
          const double by = static_cast<double>(written.load() - s.bytes_at_taken);
          ++sum.samples;
          sum.lag_mean += l;
          sum.lag_max = std::max(sum.lag_max, l);
          sum.bytes_mean += by;
          sum.bytes_max = std::max(sum.bytes_max, by);
        }
      }
    }
  });

  for (auto next = start; next - start < std::chrono::seconds(run_s);
       next += std::chrono::seconds(interval_s)) {
    std::this_thread::sleep_until(next);
    const auto t0 = Clock::now();
    const auto bytes = written.load();
    auto ref = must(a.create_mirror_snapshot(image), "snapshot");
    std::lock_guard lock(mu);
    snaps.push_back({ref, Clock::now(), bytes, secs(Clock::now() - t0), std::nullopt});
  }
  std::this_thread::sleep_until(start + std::chrono::seconds(run_s));
  stop = true;
  writer.join();
  sampler.join();
  const double elapsed = secs(Clock::now() - start);

  for (const auto& s : snaps) {
    ++sum.snapshots;
    sum.call_mean += s.call_seconds;
    sum.call_max = std::max(sum.call_max, s.call_seconds);
    if (s.complete_at_dr) {
      ++sum.arrived;
      const double d = secs(*s.complete_at_dr - s.taken);
      sum.arrive_mean += d;
      sum.arrive_max = std::max(sum.arrive_max, d);
    }
  }
  if (sum.samples > 0) sum.lag_mean /= sum.samples, sum.bytes_mean /= sum.samples;
  if (sum.snapshots > 0) sum.call_mean /= sum.snapshots;
  if (sum.arrived > 0) sum.arrive_mean /= sum.arrived;
  sum.mib_per_s = static_cast<double>(written.load()) / (1 << 20) / elapsed;
  sum.mirror_cpu =
      (mirror_cpu_seconds(dir, "site-a") + mirror_cpu_seconds(dir, "site-b") - cpu0) / elapsed;
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows when piped into a log
  std::string dir =
      std::getenv("DRPAIR_CEPH_DIR") ? std::getenv("DRPAIR_CEPH_DIR") : "/tmp/drpair-ceph";
  double rate = 4;
  std::vector<std::pair<int, int>> runs;
  dr::bench::read_flags(
      argc, argv,
      {{"--dir", &dir}, {"--rate", &rate}, {"--run", [&](const std::string& val) {
                                              runs.emplace_back(
                                                  std::stoi(val),
                                                  std::stoi(val.substr(val.find(':') + 1)));
                                            }}});
  if (runs.empty()) runs = {{10, 60}, {60, 150}};

  auto a =
      must(dr::storage::open_rbd_mirror_storage({dir + "/site-a/ceph.conf", "admin"}), "site-a");
  auto b =
      must(dr::storage::open_rbd_mirror_storage({dir + "/site-b/ceph.conf", "admin"}), "site-b");
  must(a->enable_pool_mirroring("rbd"), "pool mirroring a");
  must(b->enable_pool_mirroring("rbd"), "pool mirroring b");
  if (must(b->list_peers("rbd"), "peers").empty()) {
    auto token = must(a->create_bootstrap_token("rbd"), "token");
    must(b->import_bootstrap_token("rbd", token, dr::storage::PeerDirection::rx_tx), "import");
  }
  const ImageSpec image{"rbd", "rpo-bench-" + std::to_string(::getpid())};
  must(a->create_image(image, 64u << 20), "create");
  must(a->enable_mirroring(image, dr::storage::MirrorMode::snapshot), "enable");
  const auto t0 = Clock::now();
  const auto first = must(a->create_mirror_snapshot(image), "first snapshot");
  must(b->wait_for_snapshot(image, first, Clock::now() + 120s), "first sync");
  std::printf("setup: image %s, first sync %.1f s, write rate %.1f MiB/s\n",
              dr::storage::to_string(image).c_str(), secs(Clock::now() - t0), rate);
  std::printf("%-9s %-7s %-8s %-19s %-21s %-17s %-19s %-8s %s\n", "interval", "run", "samples",
              "lag s (mean/max)", "lag MiB (mean/max)", "snap call s", "arrive at DR s", "arrived",
              "rbd-mirror CPU");
  for (const auto& [interval, run_s] : runs) {
    const auto s = run(*a, *b, image, interval, run_s, rate, dir);
    std::printf(
        "%-9s %-7s %-8d %5.1f / %-11.1f %6.1f / %-12.1f %4.2f / %-8.2f %5.1f / %-11.1f %d/%-6d "
        "%.1f%% of a core\n",
        (std::to_string(interval) + " s").c_str(), (std::to_string(run_s) + " s").c_str(),
        s.samples, s.lag_mean, s.lag_max, s.bytes_mean / (1 << 20), s.bytes_max / (1 << 20),
        s.call_mean, s.call_max, s.arrive_mean, s.arrive_max, s.arrived, s.snapshots,
        100 * s.mirror_cpu);
    std::printf("          achieved write rate %.2f MiB/s\n", s.mib_per_s);
  }
  (void)a->remove_image(image);
  return 0;
}
