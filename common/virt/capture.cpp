#include "virt/capture.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>

#include "model/net_address.hpp"

namespace dr::virt {
namespace {

constexpr std::int64_t kGiB = 1024LL * 1024 * 1024;

std::string network_key(const std::string& sw, const std::optional<std::string>& pg) {
  return pg ? sw + "." + *pg : sw;
}

std::string where(const std::string& sw, const std::optional<std::string>& pg) {
  return "network '" + sw + "'" + (pg ? " portgroup '" + *pg + "'" : std::string());
}

class Capturer {
 public:
  Capturer(Hypervisor& hv, std::string app_id, const CaptureOptions& options)
      : hv_(hv), app_id_(std::move(app_id)), options_(options) {}

  Result<model::FirstDescription> run() {
    // The metadata of every domain first, then the whole definition of the app's own domains.
    auto site = hv_.list_members();
    if (!site) return site.error();
    std::vector<std::pair<DomainDef, DomainState>> members;
    for (const auto& [status, membership, broken] : *site) {
      if (broken) {
        if (broken->app_id == app_id_) return fail(Errc::invalid_argument, broken->message);
        if (options_.warn) {
          options_.warn(broken->message + "; skipped: it names " +
                        (broken->app_id ? "app '" + *broken->app_id + "'" : "no app"));
        }
        continue;
      }
      if (!virt::is_app_vm(membership, app_id_)) continue;
      auto def = hv_.get_domain(status.name);
      if (!def) {
        if (def.error().code == Errc::not_found) continue;  // undefined meanwhile
        return def.error();
      }
      if (virt::is_app_vm(def->membership, app_id_)) {
        members.emplace_back(std::move(*def), status.state);
      }
    }
    if (members.empty()) {
      return fail(Errc::not_found, "app '" + app_id_ + "': no domain carries its drpair metadata");
    }
    std::sort(members.begin(), members.end(),
              [](const auto& a, const auto& b) { return a.first.uuid < b.first.uuid; });

    model::FirstDescription out;
    out.app.id = app_id_;
    out.app.site = options_.site;
    out.app.captured_at = options_.captured_at ? *options_.captured_at : utc_now_rfc3339();
    const Membership& first = *members.front().first.membership;
    out.app.generation = first.generation;
    for (const auto& [def, state] : members) {
      const Membership& m = *def.membership;
      if (m.generation != first.generation) {
        return fail(Errc::failed_precondition,
                    "app '" + app_id_ + "': domains disagree on the generation ('" +
                        members.front().first.name + "' has " + std::to_string(first.generation) +
                        ", '" + def.name + "' has " + std::to_string(m.generation) + ")");
      }
      if (!out.app.name.empty() || !m.app_name) continue;
      out.app.name = *m.app_name;
    }
    if (out.app.name.empty()) out.app.name = app_id_;

    // The networks the app declares, across all its domains.
    for (const auto& [def, state] : members) {
      for (const auto& n : def.membership->networks) {
        const std::string key = network_key(n.switch_name, n.portgroup);
        if (declared_.count(key) == 0) {
          declared_.emplace(key, n);
          declared_order_.push_back(key);
        }
      }
    }

    for (const auto& [def, state] : members) {
      auto vm = capture_vm(def, state);
      if (!vm) return vm.error();
      out.vms.push_back(std::move(*vm));
    }
    for (const auto& key : declared_order_) {
      if (networks_.count(key) != 0) continue;
      const DeclaredNetwork& d = declared_.at(key);
      if (auto added = add_network(d.switch_name, d.portgroup, "app '" + app_id_ + "'"); !added) {
        return added.error();
      }
    }
    // Everything the app holds that drpair cannot protect, at once.
    if (!refused_.empty()) {
      std::string all;
      for (const auto& r : refused_) all += (all.empty() ? "" : "; ") + r;
      return fail(Errc::failed_precondition,
                  "app '" + app_id_ + "' cannot be protected as it is: " + all);
    }
    for (const auto& key : network_order_) out.networks.push_back(networks_.at(key));
    return out;
  }

 private:
  Result<model::SourceVm> capture_vm(const DomainDef& def, DomainState state) {
    model::SourceVm vm;
    vm.id = def.uuid;
    vm.name = def.name;
    vm.spec.vcpus = def.vcpus;
    vm.spec.memory_mib = def.memory_mib;
    vm.boot_order = def.membership->boot_order;
    const std::string dom = "domain '" + def.name + "'";
    for (const auto& why : def.uncarried) refused_.push_back(dom + ": " + why);
    if (!def.host_tuning.empty() && options_.warn) {
      std::string which;
      for (const auto& t : def.host_tuning) which += (which.empty() ? "" : ", ") + t;
      options_.warn(dom + ": " + which +
                    " not carried: host-specific, the DR site's hosts apply their defaults");
    }
    if (def.odd_memory_kib) {
      refused_.push_back(dom + ": memory " + std::to_string(*def.odd_memory_kib) +
                         " KiB is not a whole number of MiB (what drpair/v1 carries); give it " +
                         std::to_string(def.memory_mib) + " or " +
                         std::to_string(def.memory_mib + 1) + " MiB");
    }
    for (const auto& disk : def.disks) {
      if (!disk.rbd) {
        // An empty CD-ROM or floppy drive holds no data to protect.
        if (disk.device != "disk" && disk.other_source.empty()) continue;
        refused_.push_back(dom + ": disk '" + disk.target + "' (" +
                           (disk.other_source.empty() ? "no source" : disk.other_source) +
                           ") is not an RBD disk and cannot be protected");
        continue;
      }
      std::optional<std::string> bus;
      if (!disk.bus.empty() && disk.bus != "virtio") bus = disk.bus;
      model::Disk d{disk.target, disk.pool.empty() ? "rbd" : disk.pool, disk.image, std::nullopt,
                    bus, disk.rbd_namespace};
      const std::string here = dom + ": disk '" + disk.target + "'";
      const std::string what = here + " (rbd " + model::image_text(d) + ")";
      for (const auto& why : disk.uncarried) refused_.push_back(what + ": " + why);
      const auto [first_use, fresh] = images_.emplace(model::image_text(d), here);
      if (!fresh) {
        refused_.push_back(what + " is also " + first_use->second +
                           ": drpair/v1 describes no shared disks");
        continue;
      }
      if (bus && !model::is_disk_bus(*bus)) {
        refused_.push_back(what + " is on bus '" + *bus + "', which drpair does not carry (" +
                           model::disk_buses_text() + ")");
        continue;
      }
      if (!disk.uncarried.empty()) continue;
      // A libvirt RBD pool lists the images of its pool's default namespace only.
      auto bytes = hv_.rbd_image_bytes(model::pool_spec(d), d.image);
      if (!bytes) return bytes.error();
      if (*bytes) d.size_gib = (**bytes + kGiB - 1) / kGiB;
      vm.disks.push_back(std::move(d));
    }
    std::optional<std::vector<InterfaceAddress>> observed;
    std::map<std::string, int> macs;
    for (const auto& nic : def.nics) ++macs[nic.mac];
    for (const auto& [mac, n] : macs) {
      if (n > 1) {
        refused_.push_back(dom + ": " + std::to_string(n) + " NICs share MAC " + mac +
                           " (drpair names a NIC by its MAC, and carries no failover <teaming>, "
                           "which pairs NICs so): give each its own");
      }
    }
    for (const auto& nic : def.nics) {
      if (macs[nic.mac] > 1) continue;
      model::SourceNic out;
      out.mac = nic.mac;
      if (!nic.model.empty() && nic.model != "virtio") out.model = nic.model;
      for (const auto& d : def.membership->nics) {
        if (d.mac == nic.mac) out.ip = d.ip;
      }
      const std::string which = dom + ": NIC " + nic.mac;
      if (nic.own_vlan) {
        refused_.push_back(which + " has a VLAN of its own (" + *nic.own_vlan +
                           "): drpair carries the VLAN of the NIC's network or portgroup; move "
                           "the VLAN there");
        // Its network is still looked at, so what is wrong there is named in the same error.
      }
      // Leases exist only on a network with an <ip> (libvirt's DHCP); the guest agent is asked
      // with them. (libvirt 9.0's test driver crashes the client when asked otherwise.)
      if (!out.ip && state == DomainState::running && has_leases(nic)) {
        if (!observed) {
          auto addrs = hv_.interface_addresses(def.name);
          if (!addrs) return addrs.error();
          observed = std::move(*addrs);
        }
        for (const auto& a : *observed) {
          if (!out.ip && model::canonical_mac(a.mac).value_or(a.mac) == nic.mac) out.ip = a.ip;
        }
      }
      if (nic.kind != NicKind::network) {
        if (!out.ip) {
          refused_.push_back(
              which + " is not on a libvirt network (" +
              (nic.kind == NicKind::bridge ? "bridge '" + nic.bridge + "'" : nic.bridge) +
              ") and the metadata declares no address for it");
          continue;
        }
        vm.nics.push_back(std::move(out));
        continue;
      }
      // No portgroup on a network with a default one: libvirt puts the NIC there.
      auto portgroup = nic.portgroup;
      if (!portgroup) {
        auto net = network(nic.network, which);
        if (!net) return net.error();
        for (const auto& pg : (*net)->portgroups) {
          if (pg.is_default) portgroup = pg.name;
        }
      }
      const std::string key = network_key(nic.network, portgroup);
      if (!declared_.empty() && declared_.count(key) == 0) {
        refused_.push_back(which + " is on " + where(nic.network, portgroup) + ", which app '" +
                           app_id_ + "' does not declare");
        continue;
      }
      auto id = add_network(nic.network, portgroup, which);
      if (!id) return id.error();
      out.network = *id;
      vm.nics.push_back(std::move(out));
    }
    return vm;
  }

  // The libvirt network `sw`, read once per capture.
  Result<const NetworkDef*> network(const std::string& sw, const std::string& user) {
    if (const auto it = switches_.find(sw); it != switches_.end()) return &it->second;
    auto net = hv_.get_network(sw);
    if (!net) {
      if (net.error().code == Errc::not_found) {
        return fail(Errc::not_found, user + " uses " + where(sw, std::nullopt) +
                                         ", which does not exist (" + net.error().message + ")");
      }
      return net.error();
    }
    return &switches_.emplace(sw, std::move(*net)).first->second;
  }

  bool has_leases(const NicDef& nic) {
    if (nic.kind != NicKind::network) return true;  // the guest agent may know
    auto net = network(nic.network, "");
    return net && !(*net)->ips.empty();
  }

  // Adds the source network for (switch, portgroup) once; returns its id.
  Result<std::string> add_network(const std::string& sw, const std::optional<std::string>& pg,
                                  const std::string& user) {
    const std::string key = network_key(sw, pg);
    if (const auto it = networks_.find(key); it != networks_.end()) return it->second.id;
    auto found = network(sw, user);
    if (!found) return found.error();
    const NetworkDef* net = *found;
    model::SourceNetwork out;
    const auto declared = declared_.find(key);
    const DeclaredNetwork* d = declared == declared_.end() ? nullptr : &declared->second;
    out.id = d != nullptr && d->id ? *d->id : key;
    out.name = d != nullptr && d->name ? *d->name : (pg ? *pg : sw);
    out.switch_name = sw;
    out.portgroup = pg;
    out.vlan = net->vlan;
    if (pg) {
      const auto it = std::find_if(net->portgroups.begin(), net->portgroups.end(),
                                   [&](const PortgroupDef& p) { return p.name == *pg; });
      if (it == net->portgroups.end()) {
        return fail(Errc::not_found,
                    user + " uses " + where(sw, pg) + ", but that portgroup does not exist");
      }
      if (it->vlan) out.vlan = it->vlan;
      if (it->uncarried_vlan) {
        refused_.push_back(where(sw, pg) + " (used by " + user + ") carries " +
                           *it->uncarried_vlan + ": drpair maps one VLAN per network");
      }
    } else if (net->uncarried_vlan) {
      refused_.push_back(where(sw, pg) + " (used by " + user + ") carries " +
                         *net->uncarried_vlan + ": drpair maps one VLAN per network");
    }
    for (const auto& v6 : net->ipv6) {
      refused_.push_back(where(sw, pg) + " (used by " + user + ") has IPv6 subnet " + v6 +
                         ": drpair/v1 carries IPv4 subnets only");
    }
    const DeclaredPortgroup* site =
        pg && options_.config != nullptr ? declared_portgroup(*options_.config, sw, *pg) : nullptr;
    if (site != nullptr) {
      out.subnets = site->subnets;
    } else if (d != nullptr && !d->subnets.empty()) {
      for (const auto& s : d->subnets) out.subnets.push_back({s.cidr, s.gateway});
    } else {
      for (const auto& ip : net->ips) {
        const auto addr = model::Ipv4::parse(ip.address);
        if (!addr || ip.prefix < 0 || ip.prefix > 32) continue;
        const std::uint32_t mask = ip.prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - ip.prefix);
        const model::Cidr cidr(model::Ipv4(addr->value() & mask), ip.prefix);
        out.subnets.push_back({cidr.to_string(), ip.address});
      }
    }
    networks_.emplace(key, out);
    network_order_.push_back(key);
    return out.id;
  }

  Hypervisor& hv_;
  std::string app_id_;
  const CaptureOptions& options_;
  std::map<std::string, DeclaredNetwork> declared_;
  std::vector<std::string> declared_order_;
  std::map<std::string, model::SourceNetwork> networks_;
  std::map<std::string, std::string> images_;  // "pool/image" -> the first disk that uses it
  std::vector<std::string> network_order_;
  std::map<std::string, NetworkDef> switches_;  // libvirt networks read so far
  std::vector<std::string> refused_;  // what cannot be protected, each naming its object
};

}  // namespace

std::string utc_now_rfc3339() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<model::FirstDescription> capture(Hypervisor& hypervisor, const std::string& app_id,
                                        const CaptureOptions& options) {
  return Capturer(hypervisor, app_id, options).run();
}

}  // namespace dr::virt
