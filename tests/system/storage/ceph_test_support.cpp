#include "ceph_test_support.hpp"

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>

#include "storage/rbd_mirror_storage.hpp"
#include "support/process.hpp"

namespace dr::testing {

using storage::ImageSpec;
using storage::MirrorStorage;

std::string ceph_dir() {
  const char* dir = std::getenv("DRPAIR_CEPH_DIR");
  // A missing pair is a failure, not a skip: the system tier is part of every test run.
  if (dir == nullptr || *dir == '\0')
    FAIL("DRPAIR_CEPH_DIR is not set (the ceph_pair fixture sets it)");
  return dir;
}

std::unique_ptr<MirrorStorage> open_site(const std::string& site) {
  auto storage =
      storage::open_rbd_mirror_storage({ceph_dir() + "/" + site + "/ceph.conf", "admin"});
  if (!storage) FAIL(site << ": " << storage.error().message);
  return std::move(*storage);
}

CephPair open_pair() { return CephPair{open_site("site-a"), open_site("site-b")}; }

void ensure_peered(CephPair& pair) {
  REQUIRE(pair.a->enable_pool_mirroring("rbd"));
  REQUIRE(pair.b->enable_pool_mirroring("rbd"));
  REQUIRE(pair.a->set_site_name("site-a"));
  REQUIRE(pair.b->set_site_name("site-b"));
  auto peers = pair.b->list_peers("rbd");
  REQUIRE(peers);
  if (!peers->empty()) return;
  auto token = pair.a->create_bootstrap_token("rbd");
  REQUIRE(token);
  REQUIRE(pair.b->import_bootstrap_token("rbd", *token, storage::PeerDirection::rx_tx));
}

std::string temp_name(const std::string& base) {
  static std::atomic<int> counter{0};
  return base + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

std::vector<std::byte> test_bytes(std::size_t size, unsigned seed) {
  std::vector<std::byte> out(size);
  std::uint64_t x = 0x2545F4914F6CDD1Dull * (seed + 1);
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<std::byte>(x);
  }
  return out;
}

void pair_script(const std::vector<std::string>& args) {
  std::vector<std::string> argv{std::string(DR_SOURCE_DIR) + "/deploy/ceph-pair.sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run_process(argv);
  INFO("ceph-pair.sh stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
}

std::string ceph_cli(const std::string& site, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/ceph", "-c", ceph_dir() + "/" + site + "/ceph.conf"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run_process(argv);
  INFO("ceph " << args.front() << ": " << r.err);
  REQUIRE(r.exit_code == 0);
  return r.out;
}

storage::Deadline in(std::chrono::seconds s) { return std::chrono::steady_clock::now() + s; }

ImageCleanup::~ImageCleanup() {
  if (std::getenv("DR_TEST_NOCLEANUP") != nullptr) return;
  for (auto* site : {pair_.a.get(), pair_.b.get()}) {
    if (site == nullptr) continue;
    auto info = site->mirror_info(image_);
    // A primary (its copy goes with it), or a plain image (a drill's copy).
    if (info && info->role != storage::ImageRole::non_primary) (void)site->remove_image(image_);
  }
}

}  // namespace dr::testing
