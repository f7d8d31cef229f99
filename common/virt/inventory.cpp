#include "virt/inventory.hpp"

#include "model/net_address.hpp"

namespace dr::virt {

Result<model::Inventory> inventory(Hypervisor& hv, const std::string& site,
                                   const SiteConfig* config) {
  model::Inventory out;
  out.site = site;
  auto networks = hv.list_networks();
  if (!networks) return networks.error();
  for (const auto& net : *networks) {
    model::InventorySwitch sw;
    sw.name = net.name;
    sw.vlan = net.vlan;
    for (const auto& ip : net.ips) {
      const auto addr = model::Ipv4::parse(ip.address);
      if (!addr || ip.prefix < 0 || ip.prefix > 32) continue;
      const std::uint32_t mask = ip.prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - ip.prefix);
      sw.subnets.push_back(
          {model::Cidr(model::Ipv4(addr->value() & mask), ip.prefix).to_string(), ip.address});
    }
    for (const auto& pg : net.portgroups) {
      model::InventoryPortgroup p{pg.name, pg.vlan, {}};
      if (config != nullptr) {
        if (const auto* declared = declared_portgroup(*config, net.name, pg.name)) {
          p.subnets = declared->subnets;
        }
      }
      sw.portgroups.push_back(std::move(p));
    }
    out.switches.push_back(std::move(sw));
  }
  auto domains = hv.list_domains();
  if (!domains) return domains.error();
  int vcpus = 0;
  for (const auto& d : *domains) {
    auto def = hv.get_domain(d.name);
    if (!def) {
      if (def.error().code == Errc::not_found) continue;
      return def.error();
    }
    vcpus += def->vcpus;
    model::InventoryDomain dom{d.name, d.uuid, std::nullopt};
    if (def->membership) dom.app = def->membership->app_id;
    out.domains.push_back(std::move(dom));
  }
  auto pools = hv.list_storage_pools();
  if (!pools) return pools.error();
  for (const auto& p : *pools) {
    out.pools.push_back({p.type == "rbd" && !p.source_name.empty() ? p.source_name : p.name,
                         p.available_bytes / (1024LL * 1024 * 1024)});
  }
  auto cap = hv.host_capacity();
  if (!cap) return cap.error();
  model::InventoryHost host;
  host.name = cap->hostname.empty() ? site : cap->hostname;
  host.cpus = cap->cpus;
  host.memory_mib = cap->memory_mib;
  host.free_memory_mib = cap->free_memory_mib;
  host.allocated_vcpus = vcpus;
  out.hosts.push_back(std::move(host));
  return out;
}

}  // namespace dr::virt
