#pragma once
// Shared setup of the Ceph system tests: both sites of the pair started by the ceph_pair fixture
// (DRPAIR_CEPH_DIR), peering, temporary image names, test data, and the pair script's verbs.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "storage/mirror_storage.hpp"

namespace dr::testing {

// The two sites, opened as their admin clients. Fails the test if the pair is not up.
struct CephPair {
  std::unique_ptr<storage::MirrorStorage> a;  // "site-a", production at the start of each test
  std::unique_ptr<storage::MirrorStorage> b;  // "site-b"
};

std::string ceph_dir();
std::unique_ptr<storage::MirrorStorage> open_site(const std::string& site);
CephPair open_pair();

// Pool `rbd` mirrored in image mode at both sites, site names set, and site-a's bootstrap token
// imported at site-b (rx-tx), unless they are peers already. Idempotent.
void ensure_peered(CephPair& pair);

// A name no earlier run used: "<base>-<pid>-<counter>".
std::string temp_name(const std::string& base);

// Deterministic bytes that differ with `seed`.
std::vector<std::byte> test_bytes(std::size_t size, unsigned seed);

// deploy/ceph-pair.sh VERB ARGS...; fails the test unless it exits 0.
void pair_script(const std::vector<std::string>& args);
// The ceph CLI as site's admin; returns stdout, fails the test unless it exits 0.
std::string ceph_cli(const std::string& site, const std::vector<std::string>& args);

storage::Deadline in(std::chrono::seconds s);

// Removes the image at the end of a test (at whichever site is primary, or wherever it is not
// mirrored), unless DR_TEST_NOCLEANUP is set; rbd-mirror then deletes the copy at the other site.
class ImageCleanup {
 public:
  ImageCleanup(CephPair& pair, storage::ImageSpec image) : pair_(pair), image_(std::move(image)) {}
  ~ImageCleanup();
  ImageCleanup(const ImageCleanup&) = delete;
  ImageCleanup& operator=(const ImageCleanup&) = delete;

 private:
  CephPair& pair_;
  storage::ImageSpec image_;
};

}  // namespace dr::testing
