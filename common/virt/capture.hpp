#pragma once
// Capture: an application's topology, read from a live libvirt, as a FirstDescription
// (docs/contracts.md, "From libvirt to source networks"). The app is the set of domains whose
// <metadata> carries <drpair:app id="APP">; each contributes a VM (UUID, name, vCPUs, memory,
// boot order, RBD disks, NICs) and each (libvirt network, portgroup) its NICs use becomes one
// source network.
//
// Rules, each an error naming the object rather than a silent omission:
//   - a disk that is not an RBD network disk is unprotectable (failed_precondition);
//   - a NIC on a libvirt network or portgroup that does not exist, or a network the metadata
//     declares that does not exist, is not_found;
//   - when the app's metadata declares networks (<drpair:network>), a NIC on any other network is
//     failed_precondition; when it declares none, the NICs' networks are the app's networks;
//   - a NIC not on a libvirt network (type='bridge', ...) needs a declared address in the metadata
//     and becomes an address-only NIC; without one it is failed_precondition;
//   - domains of one app that disagree on the generation are failed_precondition.
// Addresses come from the metadata, else (running domains) from DHCP leases and the guest agent.
// Subnets of a portgroup come from the site config's declared portgroups, else from the
// metadata's declared network, else from the libvirt network's <ip> elements.
// Ordering is deterministic: VMs by UUID; networks in the order the VMs' NICs first use them,
// then declared networks no NIC uses.
//
// Thread-safety: a pure function of what `hypervisor` answers.

#include <optional>
#include <string>

#include "core/result.hpp"
#include "model/descriptions.hpp"
#include "virt/hypervisor.hpp"
#include "virt/site_config.hpp"

namespace dr::virt {

struct CaptureOptions {
  std::string site;                        // the FirstDescription's app.site
  std::optional<std::string> captured_at;  // RFC 3339; nullopt: now (UTC, seconds)
  const SiteConfig* config = nullptr;      // declared portgroup subnets; may be null
};

Result<model::FirstDescription> capture(Hypervisor& hypervisor, const std::string& app_id,
                                        const CaptureOptions& options);

// The current UTC time as "2026-11-24T20:00:00Z".
std::string utc_now_rfc3339();

}  // namespace dr::virt
