#pragma once
// SiteConfig: what an agent knows about its own site that libvirt does not say (README, "Capture
// and restore on libvirt"; schemas/site_config.v1.schema.json): the site's name, how its VMs reach
// Ceph (monitors, cephx user, libvirt secret, client conf), which domain type to define, whether
// and how a restore may create a missing switch network, the subnets of portgroups on shared
// switches (docs/contracts.md, "From libvirt to source networks"), where restored VMs log their
// serial console, the isolated switch of drills, and restore tuning.
//
// Reading is strict: unknown keys, wrong types and malformed values are problems with a JSON
// Pointer, all reported at once, as the model readers do. Plain data otherwise; thread-compatible.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "model/descriptions.hpp"
#include "model/problem.hpp"
#include "virt/types.hpp"

namespace dr::virt {

enum class SwitchKind {
  openvswitch,  // <forward mode='bridge'/> on an existing OVS bridge, <virtualport openvswitch>
  isolated,     // a libvirt-made Linux bridge without forwarding (test driver, labs)
};

struct NetworkTemplate {
  std::string switch_name = "*";  // the switch it applies to; "*" for any
  SwitchKind kind = SwitchKind::openvswitch;
  std::string bridge = "{switch}";  // host bridge; "{switch}" is replaced by the switch name
  bool operator==(const NetworkTemplate&) const = default;
};

struct DeclaredPortgroup {
  std::string switch_name;
  std::string portgroup;
  std::vector<model::Subnet> subnets;
  bool operator==(const DeclaredPortgroup&) const = default;
};

struct CephAccess {
  std::vector<RbdMonitor> monitors;
  std::optional<std::string> user;         // cephx user for QEMU, without "client."
  std::optional<std::string> secret_uuid;  // libvirt secret holding that user's key
  std::optional<std::string> client_conf;  // Ceph conf for QEMU (short mount timeouts)
  bool operator==(const CephAccess&) const = default;
};

// An RBD disk of this site as libvirt attaches it: the image through the site's Ceph access.
inline DiskDef rbd_disk(const CephAccess& ceph, const model::ImageRef& image, std::string target,
                        std::string bus = "virtio") {
  DiskDef disk;
  disk.target = std::move(target);
  disk.bus = std::move(bus);
  disk.rbd = true;
  disk.pool = image.pool;
  disk.rbd_namespace = image.rbd_namespace;
  disk.image = image.image;
  disk.monitors = ceph.monitors;
  disk.auth_user = ceph.user;
  disk.secret_uuid = ceph.secret_uuid;
  disk.config_file = ceph.client_conf;
  return disk;
}

struct SiteConfig {
  std::string site;
  CephAccess ceph;
  std::string domain_type = "kvm";
  bool create_networks = false;
  std::vector<NetworkTemplate> network_templates;
  std::vector<DeclaredPortgroup> portgroups;
  int parallelism = 4;             // VMs started at once within a boot-order group
  int start_timeout_seconds = 120;  // per VM, until libvirt reports it running
  // Absolute; a restored VM logs its serial console (COM1) to <dir>/<vm name>.log.
  std::optional<std::string> console_log_dir;
  // The isolated switch drills run on (workflow/drill.hpp): `switch_name` is the libvirt network
  // a drill creates (or finds) on `bridge`, an Open vSwitch bridge with no uplink that the site
  // provides (or, `isolated`, a Linux bridge libvirt makes: no VLANs on the QEMU driver).
  // nullopt: this site runs no drills.
  std::optional<NetworkTemplate> drill_switch;
  bool operator==(const SiteConfig&) const = default;
};

Result<SiteConfig, model::Problems> parse_site_config(std::string_view text);

// The template for `switch_name` (an exact match first, then "*"), if any.
std::optional<NetworkTemplate> template_for(const SiteConfig& config,
                                            const std::string& switch_name);

// The subnets the config declares for (switch, portgroup), if it declares that portgroup.
const DeclaredPortgroup* declared_portgroup(const SiteConfig& config, const std::string& switch_name,
                                            const std::string& portgroup);

}  // namespace dr::virt
