#pragma once
// Capture: an application's topology, read from a live libvirt, as a FirstDescription
// (docs/contracts.md, "From libvirt to source networks"). The app is the set of domains whose
// <metadata> carries <drpair:app id="APP">; each contributes a VM (UUID, name, vCPUs, memory,
// boot order, RBD disks, NICs) and each (libvirt network, portgroup) its NICs use becomes one
// source network.
//
// Rules, each an error naming the object rather than a silent omission. What cannot be protected
// is failed_precondition, every case of the app in one message ("app 'A' cannot be protected as
// it is: domain 'D': disk 'vdb' ...; domain 'E': NIC ..."), so one capture shows them all:
//   - a disk that is not an RBD network disk; an RBD disk that opens its image at a snapshot (also
//     in the legacy spelling image@snap) or names it with QEMU's legacy ":option=value" suffix,
//     that is encrypted (the DR site would need its secret), whose driver type is not raw, that
//     is a cdrom/floppy/lun, read-only or shareable, or on a bus drpair does not carry
//     (model::kDiskBuses); an image that is a disk of the app twice;
//   - memory that is not a whole number of MiB (drpair/v1 carries MiB); fewer vCPUs online than
//     the domain has (<vcpu current>); a host device passed through (<hostdev>);
//   - NICs sharing one MAC; a NIC with a <vlan> of its own; a NIC on a network or portgroup that
//     carries a VLAN trunk, several tags or a native VLAN, or IPv6 subnets (drpair/v1 maps one
//     VLAN and IPv4 subnets per network);
//   - when the app's metadata declares networks (<drpair:network>), a NIC on any other network;
//     when it declares none, the NICs' networks are the app's networks;
//   - a NIC not on a libvirt network (type='bridge', ...) needs a declared address in the metadata
//     and becomes an address-only NIC.
// And on their own: a NIC on a libvirt network or portgroup that does not exist, or a network the
// metadata declares that does not exist, is not_found; domains of one app that disagree on the
// generation are failed_precondition; a domain whose drpair metadata names the app but cannot be
// read is invalid_argument naming it (another app's, or one naming none, only warns).
// A NIC with no portgroup on a network that has a default portgroup is on that portgroup (libvirt
// puts it there), and captured so. A disk's bus is carried (absent: virtio), and its image's RBD
// namespace (pool/namespace/image: disks[].namespace). Host-specific tuning
// (<cputune>, <numatune>, <memoryBacking>, <maxMemory>, <cpu><numa>) is not carried: warned.
// Addresses come from the metadata, else (running domains) from DHCP leases and the guest agent,
// asked only for a NIC whose network has an <ip> (where leases can exist) or that is not on a
// libvirt network.
// Subnets of a portgroup come from the site config's declared portgroups, else from the
// metadata's declared network, else from the libvirt network's <ip> elements.
// Ordering is deterministic: VMs by UUID; networks in the order the VMs' NICs first use them,
// then declared networks no NIC uses.
//
// Thread-safety: a pure function of what `hypervisor` answers.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "model/descriptions.hpp"
#include "virt/hypervisor.hpp"
#include "virt/site_config.hpp"

namespace dr::virt {

struct CaptureOptions {
  std::string site;                        // the FirstDescription's app.site
  std::optional<std::string> captured_at;  // RFC 3339; nullopt: now (UTC, seconds)
  const SiteConfig* config = nullptr;      // declared portgroup subnets; may be null
  // Told of each domain of the site whose drpair metadata cannot be read and that names no app, or
  // another app: it blocks nothing here (one that names this app fails the capture); and of the
  // host-specific tuning of the app's domains that is not carried (<cputune>, <numatune>, ...).
  std::function<void(std::string_view)> warn;
};

Result<model::FirstDescription> capture(Hypervisor& hypervisor, const std::string& app_id,
                                        const CaptureOptions& options);

// The current UTC time as "2026-11-24T20:00:00Z".
std::string utc_now_rfc3339();

}  // namespace dr::virt
