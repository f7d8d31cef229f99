#pragma once
// Hypervisor: one site's libvirt as drpair needs it — persistent domains (VMs), networks (the
// site's virtual switches) and their portgroups, host capacity and RBD volume sizes. It speaks in
// the value types of virt/types.hpp, never in libvirt calls or XML, so capture, restore and
// inventory are written once and tested against the real driver, with fault injection wrapped
// around it at this level.
//
// Errors (dr::Errc), each message naming the domain or network and quoting what libvirt said:
//   not_found            no such domain, network, portgroup, pool or volume
//   already_exists       a name or UUID taken by another object, a portgroup that is there
//   invalid_argument     libvirt rejected the definition (bad XML, unknown device, bad value)
//   failed_precondition  the object is in the wrong state (start of a running domain, ...)
//   unavailable          the connection or the daemon is gone or busy: retry the call
//   internal             anything else libvirt reported
//
// Ownership: an implementation owns its connection and releases it when destroyed.
// Thread-safety: every method may be called from several threads at once (libvirt connections
// are thread-safe); calls block, so agents make them from a blocking pool.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "virt/types.hpp"

namespace dr::virt {

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  // ---- domains
  virtual Result<std::vector<DomainStatus>> list_domains() = 0;
  // Every domain with its drpair membership (docs/contracts.md, "Membership in libvirt"), read
  // from its metadata element alone, not its whole definition: how capture and the app list find
  // an app's domains.
  virtual Result<std::vector<DomainMember>> list_members() = 0;
  virtual Result<DomainStatus> domain_status(const std::string& name) = 0;
  // The persistent definition, or with `live` the running one (it shows the NICs' host ports and
  // VLAN tags).
  virtual Result<DomainDef> get_domain(const std::string& name, bool live = false) = 0;
  // Defines (or redefines, same name and UUID) a persistent domain.
  virtual Result<DomainStatus> define_domain(const DomainDef& domain) = 0;
  // Adds `disks` and `nics` to the persistent definition and leaves the rest of it as it is (a
  // running domain sees them at its next start). REQUIRES: no disk of the domain has the target of
  // one of `disks`, no NIC the MAC of one of `nics`.
  virtual Status add_devices(const std::string& name, const std::vector<DiskDef>& disks,
                             const std::vector<NicDef>& nics) = 0;
  // Replaces the domain's drpair element (<metadata>, kMetadataNamespace) with `membership`, in
  // its persistent definition and, while it runs, its live one; the rest stays as it is.
  virtual Status set_membership(const std::string& name, const Membership& membership) = 0;
  // failed_precondition if it is already running.
  virtual Status start_domain(const std::string& name) = 0;
  // Asks the guest to power off (the ACPI power button) and returns at once, before it has; a
  // guest may take its time or ignore it. failed_precondition if it is not running.
  virtual Status shutdown_domain(const std::string& name) = 0;
  // Hard power-off; failed_precondition if it is not running.
  virtual Status destroy_domain(const std::string& name) = 0;
  // REQUIRES: not running.
  virtual Status undefine_domain(const std::string& name) = 0;
  // IPv4 addresses of a running domain's NICs, from DHCP leases and, where a guest agent answers,
  // from the agent. Empty if neither knows.
  virtual Result<std::vector<InterfaceAddress>> interface_addresses(const std::string& name) = 0;

  // ---- networks
  virtual Result<std::vector<NetworkDef>> list_networks() = 0;
  virtual Result<NetworkDef> get_network(const std::string& name) = 0;
  // Defines, starts and marks autostart a new network.
  virtual Status create_network(const NetworkDef& network) = 0;
  // Stops (if active) and undefines it.
  virtual Status remove_network(const std::string& name) = 0;
  // Adds a portgroup to the running network and its persistent definition.
  virtual Status add_portgroup(const std::string& network, const PortgroupDef& portgroup) = 0;
  virtual Status remove_portgroup(const std::string& network, const std::string& portgroup) = 0;

  // ---- capacity and storage
  virtual Result<HostCapacity> host_capacity() = 0;
  virtual Result<std::vector<StoragePoolInfo>> list_storage_pools() = 0;
  // The size of an RBD image, if a libvirt RBD storage pool over `ceph_pool` lists it; nullopt if
  // no libvirt pool knows the image (sizes are then left out of captures).
  virtual Result<std::optional<std::int64_t>> rbd_image_bytes(const std::string& ceph_pool,
                                                              const std::string& image) = 0;
};

// Opens connections for work that runs in parallel (starting a boot-order group). The libvirt
// implementation opens one connection per call for a daemon URI; for the test driver, where each
// connection to a file URI is a private copy of the site, it hands out the one shared connection.
using HypervisorFactory = std::function<Result<std::shared_ptr<Hypervisor>>()>;

// A factory that always returns `shared` (the test driver, and fault injection around it).
HypervisorFactory share_one(std::shared_ptr<Hypervisor> shared);

}  // namespace dr::virt
