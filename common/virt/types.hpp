#pragma once
// Value types of the libvirt side, as drpair needs them: domains (VMs) and networks (switches with
// portgroups), plus the drpair membership metadata a domain carries. Plain data, no libvirt types:
// the libvirt adapter converts to and from libvirt XML (virt/xml.hpp), everything else (capture,
// restore, inventory, fakes) works on these.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dr::virt {

// The XML namespace of drpair's domain metadata (docs/contracts.md, "Membership in libvirt").
inline constexpr const char* kMetadataNamespace = "urn:drpair:app:v1";

enum class DomainState { shutoff, running, paused, other };
const char* to_string(DomainState state) noexcept;

struct RbdMonitor {
  std::string host;
  std::optional<int> port;
  bool operator==(const RbdMonitor&) const = default;
};

// A disk as libvirt holds it. Only RBD network disks can be protected; any other disk is kept with
// a description of its source so capture can name it in its error.
struct DiskDef {
  std::string target;  // "vda"
  std::string device = "disk";  // disk, cdrom, floppy, lun
  std::string bus = "virtio";
  bool rbd = false;
  // RBD disks (libvirt's <source name='POOL/[NAMESPACE/]IMAGE'>):
  std::string pool;
  std::string rbd_namespace;  // "": the pool's default namespace
  std::string image;
  std::vector<RbdMonitor> monitors;
  std::optional<std::string> auth_user;        // cephx user without "client."
  std::optional<std::string> secret_uuid;      // libvirt secret holding the cephx key
  std::optional<std::string> config_file;      // Ceph client conf for QEMU
  // Other disks: "file /var/lib/x.qcow2", "block /dev/sdb", "network nbd ..."; empty when the
  // drive has no medium (an empty cdrom).
  std::string other_source;
  std::string file;  // type='file' disks: the path (kept so such a domain can be defined again)
  // What the disk's XML holds that drpair cannot carry to the DR site, each in words for an error
  // ("opens the image at RBD snapshot 'snap1'"): capture refuses the disk, naming them.
  std::vector<std::string> uncarried;
  bool operator==(const DiskDef&) const = default;
};

enum class NicKind { network, bridge, other };

struct NicDef {
  std::string mac;  // canonical lower case
  NicKind kind = NicKind::network;
  std::string network;                   // kind network: the libvirt network
  std::optional<std::string> portgroup;  // kind network
  std::string bridge;                    // kind bridge: the host bridge
  std::string model = "virtio";
  // Only in the live XML of a running domain:
  std::optional<std::string> target_dev;  // "vnet3": the host-side port
  std::optional<int> live_vlan;           // the VLAN tag libvirt applied
  // In the persistent XML: the NIC's own <vlan> (tags, a trunk), which drpair cannot carry.
  std::optional<std::string> own_vlan;
  bool operator==(const NicDef&) const = default;
};

struct DeclaredSubnet {
  std::string cidr;
  std::optional<std::string> gateway;
  bool operator==(const DeclaredSubnet&) const = default;
};

// One network of the app, declared in the metadata (written by a restore; optional at
// production). `created` says what the restore that wrote it created, so teardown removes exactly
// that: "network" (the libvirt network and its portgroup), "portgroup", or empty (it existed).
struct DeclaredNetwork {
  std::optional<std::string> id;    // the description's network id
  std::optional<std::string> name;  // the description's network name
  std::string switch_name;          // the libvirt network
  std::optional<std::string> portgroup;
  std::optional<int> vlan;
  std::vector<DeclaredSubnet> subnets;
  std::string created;
  bool operator==(const DeclaredNetwork&) const = default;
};

struct DeclaredNic {
  std::string mac;
  std::string ip;
  bool operator==(const DeclaredNic&) const = default;
};

// <drpair:app xmlns:drpair="urn:drpair:app:v1" id= name= generation= boot-order=> with <drpair:nic>
// and <drpair:network> children; a restore adds source-site= and source-vm= attributes.
struct Membership {
  std::string app_id;
  std::optional<std::string> app_name;
  std::int64_t generation = 0;
  std::optional<int> boot_order;
  std::optional<std::string> source_site;  // set by a restore
  std::optional<std::string> source_vm;    // set by a restore
  bool drill = false;  // set by a drill's restore (workflow/drill.hpp): never the app itself
  std::vector<DeclaredNic> nics;
  std::vector<DeclaredNetwork> networks;
  bool operator==(const Membership&) const = default;
};

// The domain is one of app `app_id`'s VMs: its own or restored by a failover, not a drill's.
inline bool is_app_vm(const std::optional<Membership>& m, const std::string& app_id) {
  return m && m->app_id == app_id && !m->drill;
}

// drpair metadata on a domain that cannot be read: the domain belongs to no app, and only the app
// it names (when its id is readable) is told; every other app and the site go on without it.
struct BrokenMembership {
  std::optional<std::string> app_id;  // the id it names, if any
  std::string message;                // "domain 'x': drpair metadata: drpair:app generation 'y'"
  bool operator==(const BrokenMembership&) const = default;
};

struct DomainDef {
  std::string name;
  std::string uuid;
  std::string type = "kvm";  // libvirt domain type: kvm, qemu, test
  int vcpus = 1;
  std::int64_t memory_mib = 0;
  // Read only: memory that is not a whole number of MiB (drpair/v1 carries MiB), in KiB.
  std::optional<std::int64_t> odd_memory_kib;
  // Read only: what the domain holds beyond its disks and NICs that drpair cannot carry, each in
  // words for an error ("only 2 of its 4 vCPUs are online"): capture refuses the domain, naming
  // them.
  std::vector<std::string> uncarried;
  // Read only: host-specific placement and tuning drpair does not carry (the DR site's hosts
  // differ; its defaults apply), by element ("<cputune>"): capture warns, naming them.
  std::vector<std::string> host_tuning;
  std::vector<DiskDef> disks;
  std::vector<NicDef> nics;
  // The host file the guest's first serial port (COM1) is logged to: written as <serial
  // type='file'>; read from that or from a serial's <log file=> (a pty serial with a log).
  std::optional<std::string> serial_log;
  std::optional<Membership> membership;
  std::optional<BrokenMembership> broken_membership;  // read only; then membership is nullopt
  bool operator==(const DomainDef&) const = default;
};

struct DomainStatus {
  std::string name;
  std::string uuid;
  DomainState state = DomainState::shutoff;
  bool operator==(const DomainStatus&) const = default;
};

// A domain of the site and its drpair membership, if it carries one.
struct DomainMember {
  DomainStatus status;
  std::optional<Membership> membership;
  std::optional<BrokenMembership> broken;  // then membership is nullopt
};

struct PortgroupDef {
  std::string name;
  std::optional<int> vlan;
  bool is_default = false;
  // A VLAN setting drpair cannot carry (a trunk, several tags, a native VLAN), in words.
  std::optional<std::string> uncarried_vlan;
  bool operator==(const PortgroupDef&) const = default;
};

struct NetworkIp {
  std::string address;  // the host side address, the subnet's gateway
  int prefix = 24;
  bool operator==(const NetworkIp&) const = default;
};

struct NetworkDef {
  std::string name;
  std::string uuid;  // empty: libvirt assigns one
  std::string forward_mode;  // "", "bridge", "nat", "route", ...
  std::string bridge;
  std::string virtualport;  // "openvswitch" or ""
  std::optional<int> vlan;
  std::vector<NetworkIp> ips;  // IPv4
  std::vector<std::string> ipv6;  // IPv6 subnets ("fd00:1::1/64"), which drpair/v1 cannot carry
  std::optional<std::string> uncarried_vlan;  // as PortgroupDef's, for the whole network
  std::vector<PortgroupDef> portgroups;
  bool active = false;  // filled in by reads, ignored when defining
  bool operator==(const NetworkDef&) const = default;
};

struct InterfaceAddress {
  std::string mac;
  std::string ip;  // IPv4 only
  bool operator==(const InterfaceAddress&) const = default;
};

struct HostCapacity {
  std::string hostname;
  int cpus = 0;
  std::int64_t memory_mib = 0;
  std::int64_t free_memory_mib = 0;
  bool operator==(const HostCapacity&) const = default;
};

struct StoragePoolInfo {
  std::string name;         // the libvirt pool
  std::string type;         // rbd, dir, ...
  std::string source_name;  // for rbd: the Ceph pool
  std::int64_t available_bytes = 0;
  bool operator==(const StoragePoolInfo&) const = default;
};

}  // namespace dr::virt
