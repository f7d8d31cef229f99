#pragma once
// Inventory: what a DR site already has, read from its libvirt, for the validator
// (model::Inventory; docs/contracts.md, "Inventory"): every libvirt network as a switch with its
// VLAN, subnets and portgroups (a portgroup's subnets from the site config, which declares them),
// every domain with its drpair app, libvirt storage pools (RBD pools by their Ceph pool name) with
// free space, and the host's CPUs and memory with the vCPUs already allocated to domains.
// Thread-safety: a pure function of what `hypervisor` answers.

#include <string>

#include "core/result.hpp"
#include "model/descriptions.hpp"
#include "virt/hypervisor.hpp"
#include "virt/site_config.hpp"

namespace dr::virt {

Result<model::Inventory> inventory(Hypervisor& hypervisor, const std::string& site,
                                   const SiteConfig* config = nullptr);

}  // namespace dr::virt
