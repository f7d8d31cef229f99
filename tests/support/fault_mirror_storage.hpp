#pragma once
// FaultMirrorStorage: a MirrorStorage wrapper (one site's) whose calls count in a FaultPlan
// (support/fault_plan.hpp) and fail where the plan says, before or after taking effect. Wraps the
// two-site model in the workflow sweeps and the real pair alike. Calls are logged as
// "SITE OPERATION POOL/IMAGE".
//
// Ownership: borrows the inner storage, shares the plan. Thread-safe: as the inner storage.

#include <memory>
#include <string>

#include "storage/mirror_storage.hpp"
#include "support/fault_plan.hpp"

namespace dr::testing {

class FaultMirrorStorage final : public storage::MirrorStorage {
 public:
  FaultMirrorStorage(std::string site, storage::MirrorStorage& inner,
                     std::shared_ptr<FaultPlan> plan)
      : site_(std::move(site)), inner_(inner), plan_(std::move(plan)) {}

  Result<std::vector<storage::PoolSpace>> list_pools() override {
    return call("list_pools", "", [&] { return inner_.list_pools(); });
  }
  Status set_site_name(const std::string& name) override {
    return call("set_site_name", name, [&] { return inner_.set_site_name(name); });
  }
  Result<std::string> site_name() override {
    return call("site_name", "", [&] { return inner_.site_name(); });
  }
  Status enable_pool_mirroring(const std::string& pool) override {
    return call("enable_pool_mirroring", pool, [&] { return inner_.enable_pool_mirroring(pool); });
  }
  Status disable_pool_mirroring(const std::string& pool) override {
    return call("disable_pool_mirroring", pool,
                [&] { return inner_.disable_pool_mirroring(pool); });
  }
  Result<std::string> mirror_uuid(const std::string& pool) override {
    return call("mirror_uuid", pool, [&] { return inner_.mirror_uuid(pool); });
  }
  Result<storage::BootstrapToken> create_bootstrap_token(const std::string& pool) override {
    return call("create_bootstrap_token", pool,
                [&] { return inner_.create_bootstrap_token(pool); });
  }
  Status import_bootstrap_token(const std::string& pool, const storage::BootstrapToken& token,
                                storage::PeerDirection direction) override {
    return call("import_bootstrap_token", pool,
                [&] { return inner_.import_bootstrap_token(pool, token, direction); });
  }
  Result<std::vector<storage::PeerSite>> list_peers(const std::string& pool) override {
    return call("list_peers", pool, [&] { return inner_.list_peers(pool); });
  }
  Status remove_peer(const std::string& pool, const std::string& peer_uuid) override {
    return call("remove_peer", pool, [&] { return inner_.remove_peer(pool, peer_uuid); });
  }
  Status create_image(const storage::ImageSpec& image, std::uint64_t size_bytes) override {
    return call("create_image", image, [&] { return inner_.create_image(image, size_bytes); });
  }
  Status remove_image(const storage::ImageSpec& image) override {
    return call("remove_image", image, [&] { return inner_.remove_image(image); });
  }
  Result<bool> image_exists(const storage::ImageSpec& image) override {
    return call("image_exists", image, [&] { return inner_.image_exists(image); });
  }
  Result<std::uint64_t> image_size(const storage::ImageSpec& image) override {
    return call("image_size", image, [&] { return inner_.image_size(image); });
  }
  Status write(const storage::ImageSpec& image, std::uint64_t offset,
               std::span<const std::byte> data) override {
    return call("write", image, [&] { return inner_.write(image, offset, data); });
  }
  Result<std::uint64_t> copy_image(const storage::ImageSpec& source,
                                   const storage::ImageSpec& target,
                                   std::stop_token stop) override {
    return call("copy_image", source, [&] { return inner_.copy_image(source, target, stop); });
  }
  Result<std::string> checksum(const storage::ImageSpec& image) override {
    return call("checksum", image, [&] { return inner_.checksum(image); });
  }
  Status enable_mirroring(const storage::ImageSpec& image, storage::MirrorMode mode) override {
    return call("enable_mirroring", image, [&] { return inner_.enable_mirroring(image, mode); });
  }
  Status disable_mirroring(const storage::ImageSpec& image, bool force) override {
    return call("disable_mirroring", image,
                [&] { return inner_.disable_mirroring(image, force); });
  }
  Result<storage::ImageMirrorInfo> mirror_info(const storage::ImageSpec& image) override {
    return call("mirror_info", image, [&] { return inner_.mirror_info(image); });
  }
  Result<storage::ImageMirrorStatus> mirror_status(const storage::ImageSpec& image) override {
    return call("mirror_status", image, [&] { return inner_.mirror_status(image); });
  }
  Result<std::vector<storage::MirrorSnapshot>> mirror_snapshots(
      const storage::ImageSpec& image) override {
    return call("mirror_snapshots", image, [&] { return inner_.mirror_snapshots(image); });
  }
  Result<storage::MirrorSnapshotRef> create_mirror_snapshot(
      const storage::ImageSpec& image) override {
    return call("create_mirror_snapshot", image,
                [&] { return inner_.create_mirror_snapshot(image); });
  }
  Status wait_for_snapshot(const storage::ImageSpec& image,
                           const storage::MirrorSnapshotRef& snapshot,
                           storage::Deadline deadline) override {
    return call("wait_for_snapshot", image,
                [&] { return inner_.wait_for_snapshot(image, snapshot, deadline); });
  }
  Result<storage::MirrorSnapshotRef> demote(const storage::ImageSpec& image) override {
    return call("demote", image, [&] { return inner_.demote(image); });
  }
  Status promote(const storage::ImageSpec& image, storage::Promotion kind) override {
    return call("promote", image, [&] { return inner_.promote(image, kind); });
  }
  Status resync(const storage::ImageSpec& image) override {
    return call("resync", image, [&] { return inner_.resync(image); });
  }
  Result<storage::ReplicationLag> replication_lag(const storage::ImageSpec& image) override {
    return call("replication_lag", image, [&] { return inner_.replication_lag(image); });
  }

 private:
  template <class F>
  auto call(const char* op, const storage::ImageSpec& image, F&& f) -> decltype(f()) {
    return call(op, storage::to_string(image), std::forward<F>(f));
  }
  template <class F>
  auto call(const char* op, const std::string& object, F&& f) -> decltype(f()) {
    return plan_->call(site_ + " " + op + (object.empty() ? "" : " " + object),
                       std::forward<F>(f));
  }

  std::string site_;
  storage::MirrorStorage& inner_;
  std::shared_ptr<FaultPlan> plan_;
};

}  // namespace dr::testing
