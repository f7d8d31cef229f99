#pragma once
// FaultHypervisor: a Hypervisor wrapper around the real one (leveldb's FaultInjectionTestEnv
// shape) that fails the k-th call of its FaultPlan (support/fault_plan.hpp), either before passing
// it on (the side effect never happens) or after (it happened, but the caller sees an error, as
// when an agent dies right after libvirt answered). The plan also logs the calls, so tests can
// check what was asked and in which order; a sweep shares one plan between this and the other
// wrappers of a workflow's world.
// Thread-safe: as the plan (parallel starts call it from workers).

#include <memory>
#include <string>
#include <vector>

#include "support/fault_plan.hpp"
#include "virt/hypervisor.hpp"

namespace dr::virt::testing {

using dr::testing::FaultMode;
using dr::testing::FaultPlan;

class FaultHypervisor final : public Hypervisor {
 public:
  explicit FaultHypervisor(std::shared_ptr<Hypervisor> inner,
                           std::shared_ptr<FaultPlan> plan = std::make_shared<FaultPlan>())
      : inner_(std::move(inner)), plan_(std::move(plan)) {}

  // Fails call number `k` of the plan (1-based; 0 never fails).
  void fail_at(long k, FaultMode mode) { plan_->fail_at(k, mode); }
  long calls() const { return plan_->calls(); }
  std::vector<std::string> log() const { return plan_->log(); }

  Result<std::vector<DomainStatus>> list_domains() override {
    return call("list_domains", [&] { return inner_->list_domains(); });
  }
  Result<std::vector<DomainMember>> list_members() override {
    return call("list_members", [&] { return inner_->list_members(); });
  }
  Result<DomainStatus> domain_status(const std::string& name) override {
    return call("domain_status " + name, [&] { return inner_->domain_status(name); });
  }
  Result<DomainDef> get_domain(const std::string& name, bool live) override {
    return call("get_domain " + name, [&] { return inner_->get_domain(name, live); });
  }
  Result<DomainStatus> define_domain(const DomainDef& domain) override {
    return call("define_domain " + domain.name, [&] { return inner_->define_domain(domain); });
  }
  Status add_devices(const std::string& name, const std::vector<DiskDef>& disks,
                     const std::vector<NicDef>& nics) override {
    return call("add_devices " + name, [&] { return inner_->add_devices(name, disks, nics); });
  }
  Status set_membership(const std::string& name, const Membership& membership) override {
    return call("set_membership " + name, [&] { return inner_->set_membership(name, membership); });
  }
  Status start_domain(const std::string& name) override {
    return call("start_domain " + name, [&] { return inner_->start_domain(name); });
  }
  Status shutdown_domain(const std::string& name) override {
    return call("shutdown_domain " + name, [&] { return inner_->shutdown_domain(name); });
  }
  Status destroy_domain(const std::string& name) override {
    return call("destroy_domain " + name, [&] { return inner_->destroy_domain(name); });
  }
  Status undefine_domain(const std::string& name) override {
    return call("undefine_domain " + name, [&] { return inner_->undefine_domain(name); });
  }
  Result<std::vector<InterfaceAddress>> interface_addresses(const std::string& name) override {
    return call("interface_addresses " + name, [&] { return inner_->interface_addresses(name); });
  }
  Result<std::vector<NetworkDef>> list_networks() override {
    return call("list_networks", [&] { return inner_->list_networks(); });
  }
  Result<NetworkDef> get_network(const std::string& name) override {
    return call("get_network " + name, [&] { return inner_->get_network(name); });
  }
  Status create_network(const NetworkDef& network) override {
    return call("create_network " + network.name, [&] { return inner_->create_network(network); });
  }
  Status remove_network(const std::string& name) override {
    return call("remove_network " + name, [&] { return inner_->remove_network(name); });
  }
  Status add_portgroup(const std::string& network, const PortgroupDef& pg) override {
    return call("add_portgroup " + network + "/" + pg.name,
                [&] { return inner_->add_portgroup(network, pg); });
  }
  Status remove_portgroup(const std::string& network, const std::string& pg) override {
    return call("remove_portgroup " + network + "/" + pg,
                [&] { return inner_->remove_portgroup(network, pg); });
  }
  Result<HostCapacity> host_capacity() override {
    return call("host_capacity", [&] { return inner_->host_capacity(); });
  }
  Result<std::vector<StoragePoolInfo>> list_storage_pools() override {
    return call("list_storage_pools", [&] { return inner_->list_storage_pools(); });
  }
  Result<std::optional<std::int64_t>> rbd_image_bytes(const std::string& pool,
                                                      const std::string& image) override {
    return call("rbd_image_bytes", [&] { return inner_->rbd_image_bytes(pool, image); });
  }

 private:
  template <class F>
  auto call(const std::string& what, F&& f) -> decltype(f()) {
    return plan_->call(what, std::forward<F>(f));
  }

  std::shared_ptr<Hypervisor> inner_;
  std::shared_ptr<FaultPlan> plan_;
};

}  // namespace dr::virt::testing
