#pragma once
// The drpair/v1 documents as value types (docs/contracts.md, "The drpair/v1 documents";
// schemas/*.schema.json):
//   FirstDescription   the application as it runs at production (captured from libvirt);
//   SecondDescription  the application as it will run at the DR site (generated or validated);
//   MappingPolicy      the DR site's rules for generating a second description;
//   Inventory          what a DR site already has, for validation.
// Plain data: no I/O here. Reading and writing JSON is in json_io.hpp. Optional wire fields are
// std::optional; MACs are stored in canonical (lower-case) form.

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dr::model {

inline constexpr const char* kApiVersion = "drpair/v1";

struct Subnet {
  std::string cidr;                    // "192.168.10.0/24"
  std::optional<std::string> gateway;  // "192.168.10.1"
  bool operator==(const Subnet&) const = default;
};

struct Spec {
  int vcpus = 0;
  std::int64_t memory_mib = 0;
  bool operator==(const Spec&) const = default;
};

// The buses a disk may be on (libvirt's <target bus>): what capture carries and restore attaches.
inline constexpr std::string_view kDiskBuses[] = {"virtio", "scsi", "sata", "ide", "usb", "xen", "sd"};
inline bool is_disk_bus(std::string_view bus) {
  return std::find(std::begin(kDiskBuses), std::end(kDiskBuses), bus) != std::end(kDiskBuses);
}
// "virtio, scsi, ...": the buses for an error message.
inline std::string disk_buses_text() {
  std::string out;
  for (const auto bus : kDiskBuses) out.append(out.empty() ? "" : ", ").append(bus);
  return out;
}

struct Disk {
  std::string target;  // guest device, "vda"
  std::string pool;    // RBD pool
  std::string image;   // RBD image name
  std::optional<std::int64_t> size_gib;
  std::optional<std::string> bus;  // one of kDiskBuses but virtio; nullopt: virtio
  std::string rbd_namespace;       // the RBD namespace of the pool; "": its default one
  bool operator==(const Disk&) const = default;
};

// ---- FirstDescription -------------------------------------------------------------------------

struct SourceApp {
  std::string id;
  std::string name;
  std::string site;
  std::int64_t generation = 0;
  std::optional<std::string> captured_at;  // RFC 3339, "2026-11-24T20:00:00Z"
  bool operator==(const SourceApp&) const = default;
};

struct SourceNetwork {
  std::string id;
  std::string name;
  std::string switch_name;               // wire: "switch" (the libvirt network)
  std::optional<std::string> portgroup;  // absent: NICs sit on the network itself
  std::optional<int> vlan;
  std::vector<Subnet> subnets;
  bool operator==(const SourceNetwork&) const = default;
};

// A NIC names its network, or only its IPv4 address (the seed's address variant), or both.
struct SourceNic {
  std::string mac;
  std::optional<std::string> network;  // a SourceNetwork id
  std::optional<std::string> ip;
  std::optional<std::string> model;  // libvirt's <model type>, virtio left out (the default)
  bool operator==(const SourceNic&) const = default;
};

struct SourceVm {
  std::string id;  // libvirt domain UUID
  std::string name;
  Spec spec;
  std::optional<int> boot_order;
  std::vector<Disk> disks;
  std::vector<SourceNic> nics;
  bool operator==(const SourceVm&) const = default;
};

struct FirstDescription {
  SourceApp app;
  std::vector<SourceNetwork> networks;
  std::vector<SourceVm> vms;
  bool operator==(const FirstDescription&) const = default;
};

// ---- SecondDescription ------------------------------------------------------------------------

struct BackupApp {
  std::string id;
  std::string name;
  std::string source_site;
  std::string site;
  std::int64_t source_generation = 0;
  bool operator==(const BackupApp&) const = default;
};

struct BackupNetwork {
  std::string id;
  std::string source;  // a SourceNetwork id
  std::string name;
  std::string switch_name;  // wire: "switch"
  std::optional<std::string> portgroup;
  std::optional<int> vlan;
  std::vector<Subnet> subnets;
  bool operator==(const BackupNetwork&) const = default;
};

struct BackupNic {
  std::string mac;
  std::string network;  // a BackupNetwork id
  std::optional<std::string> ip;
  std::optional<std::string> model;  // the source NIC's
  bool operator==(const BackupNic&) const = default;
};

struct BackupVm {
  std::string id;
  std::string source;  // a SourceVm id
  std::string name;
  Spec spec;
  std::optional<int> boot_order;
  std::vector<Disk> disks;
  std::vector<BackupNic> nics;
  bool operator==(const BackupVm&) const = default;
};

struct ImageRef {
  std::string pool;
  std::string image;
  std::string rbd_namespace;  // "": the pool's default namespace
  bool operator==(const ImageRef&) const = default;
};

// An RBD pool, namespace or image name: not empty, and no '/' or '@', at which Ceph and libvirt
// split "POOL/NAMESPACE/IMAGE@SNAPSHOT" (a name holding either would mean another image).
inline bool is_rbd_name(std::string_view name) {
  return !name.empty() && name.find_first_of("/@") == std::string_view::npos;
}

// Where an image is, as Ceph's rbd tool and drpair's storage layer name it
// (storage/mirror_storage.hpp): the pool spec "POOL" or "POOL/NAMESPACE", and the image
// "POOL/[NAMESPACE/]IMAGE" (libvirt's <source name> too).
inline std::string pool_spec(const std::string& pool, const std::string& rbd_namespace) {
  return rbd_namespace.empty() ? pool : pool + "/" + rbd_namespace;
}
template <class Image>  // Disk or ImageRef
std::string pool_spec(const Image& i) {
  return pool_spec(i.pool, i.rbd_namespace);
}
template <class Image>
std::string image_text(const Image& i) {
  return pool_spec(i) + "/" + i.image;
}

enum class ReplicationMode { snapshot, journal };

struct ReplicationPair {
  ImageRef source;
  ImageRef target;
  ReplicationMode mode = ReplicationMode::snapshot;
  int interval_minutes = 1;
  bool operator==(const ReplicationPair&) const = default;
};

struct SecondDescription {
  BackupApp app;
  std::vector<BackupNetwork> networks;
  std::vector<BackupVm> vms;
  std::vector<ReplicationPair> replication;
  bool operator==(const SecondDescription&) const = default;
};

// ---- MappingPolicy ----------------------------------------------------------------------------

struct SubnetRule {
  std::string source;  // a source subnet's cidr
  std::string cidr;    // its DR counterpart
  std::optional<std::string> gateway;
  bool operator==(const SubnetRule&) const = default;
};

struct NetworkRule {
  std::string source;  // a source network id
  std::optional<std::string> switch_name;
  std::optional<int> vlan;
  std::optional<std::string> portgroup;
  std::vector<SubnetRule> subnets;
  bool operator==(const NetworkRule&) const = default;
};

struct PoolRule {
  std::string source;
  std::string target;
  bool operator==(const PoolRule&) const = default;
};

// RBD mirroring replicates an image into the pool of the same name at the peer site, so a rule
// that renames a pool cannot be honoured: why, or "" for a rule that keeps the name.
inline std::string pool_rule_problem(const PoolRule& rule) {
  if (rule.source.empty() || rule.target.empty() || rule.target == rule.source) return {};
  return "RBD mirroring keeps pool names: images of pool '" + rule.source +
         "' replicate to pool '" + rule.source + "' at the DR site, never to '" + rule.target +
         "'; remove this rule";
}

enum class IpPolicy { keep, translate };

struct SpecPolicy {
  int memory_percent = 100;
  int vcpus_percent = 100;
  bool operator==(const SpecPolicy&) const = default;
};

struct ReplicationPolicy {
  ReplicationMode mode = ReplicationMode::snapshot;
  int interval_minutes = 1;
  bool operator==(const ReplicationPolicy&) const = default;
};

struct MappingPolicy {
  std::optional<std::string> site;
  std::optional<std::string> default_switch;
  std::vector<NetworkRule> networks;
  std::vector<PoolRule> pools;
  IpPolicy ip = IpPolicy::keep;
  SpecPolicy spec;
  ReplicationPolicy replication;
  bool operator==(const MappingPolicy&) const = default;
};

// ---- Inventory (what a DR site already has) ---------------------------------------------------

struct InventoryPortgroup {
  std::string name;
  std::optional<int> vlan;
  std::vector<Subnet> subnets;
  bool operator==(const InventoryPortgroup&) const = default;
};

// A virtual switch: a libvirt network, with its own VLAN/subnets and its portgroups.
struct InventorySwitch {
  std::string name;
  std::optional<int> vlan;
  std::vector<Subnet> subnets;
  std::vector<InventoryPortgroup> portgroups;
  bool operator==(const InventorySwitch&) const = default;
};

struct InventoryDomain {
  std::string name;
  std::string id;                  // UUID
  std::optional<std::string> app;  // drpair app id from the domain's metadata
  bool operator==(const InventoryDomain&) const = default;
};

struct InventoryPool {
  std::string name;
  std::optional<std::int64_t> free_gib;
  bool operator==(const InventoryPool&) const = default;
};

struct InventoryHost {
  std::string name;
  int cpus = 0;
  std::int64_t memory_mib = 0;
  std::int64_t free_memory_mib = 0;
  int allocated_vcpus = 0;  // vCPUs of the domains already defined there
  bool operator==(const InventoryHost&) const = default;
};

struct Inventory {
  std::string site;
  std::vector<InventorySwitch> switches;
  std::vector<InventoryDomain> domains;
  std::vector<InventoryPool> pools;
  std::vector<InventoryHost> hosts;
  double cpu_allocation_ratio = 4.0;  // vCPUs allowed per host CPU (OpenStack's default)
  bool operator==(const Inventory&) const = default;
};

}  // namespace dr::model
