// validate(): every problem of a second description, checked against its first description and,
// when given, the DR site's inventory. The checks, in the order they are written below:
//   app        ids, site and generation agree with the first description (and the inventory);
//   networks   ids unique; each backs exactly one known source network; gateways inside their
//              subnets; no two backup networks on one portgroup or one VLAN of a switch; no
//              overlapping subnets; at the site: switch exists, portgroup and VLAN are free or
//              this app's own, subnets do not overlap the site's other subnets;
//   vms        ids and names unique; spec within bounds; each backs exactly one known source VM;
//              the same disks (by target) and NICs (by MAC) as its source VM; images not shared;
//              every NIC on the backup of its source NIC's network, its address inside that
//              network's subnets and not its gateway, network or broadcast address; MACs and
//              addresses unique; at the site: no other domain of that name or id, pools exist,
//              VM fits the largest host; the app fits the site's free memory, vCPUs and pools;
//   replication every source disk exactly once, each target the backup VM's disk and the same
//              pool and image as its source (RBD mirroring keeps names), targets unique,
//              target pools exist.
// Lookups go through hash maps built once, so validation is linear in the size of the documents.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "mapping/document_order.hpp"
#include "mapping/mapping.hpp"
#include "mapping/source_index.hpp"
#include "model/net_address.hpp"

namespace dr::mapping {
namespace {

using model::BackupNetwork;
using model::BackupVm;
using model::Cidr;
using model::Ipv4;

// The limits of the drpair/v1 schemas: a description beyond them would not read back.
constexpr int kMaxVcpus = 4096;
constexpr std::int64_t kMaxMemoryMib = std::numeric_limits<std::int64_t>::max() / 2;

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string vlan_text(const std::optional<int>& vlan) {
  return vlan ? "VLAN " + std::to_string(*vlan) : std::string("no VLAN");
}

template <class Image>  // model::Disk or model::ImageRef
std::string quoted_image(const Image& image) {
  return quoted(model::image_text(image));
}

std::string at(std::string_view array, std::size_t i) {
  return "/" + std::string(array) + "/" + std::to_string(i);
}

std::string at(std::string_view array, std::size_t i, std::string_view member) {
  return at(array, i) + "/" + std::string(member);
}

std::string at(std::string_view array, std::size_t i, std::string_view inner, std::size_t k) {
  return at(array, i, inner) + "/" + std::to_string(k);
}

std::string at(std::string_view array, std::size_t i, std::string_view inner, std::size_t k,
               std::string_view member) {
  return at(array, i, inner, k) + "/" + std::string(member);
}

// Remembers the first place each key was seen. `seen(key, where)` returns the earlier place
// when the key repeats.
template <class Key, class Where, class Map>
std::optional<Where> seen_before(Map& map, const Key& key, const Where& where) {
  const auto [it, inserted] = map.emplace(key, where);
  if (inserted) return std::nullopt;
  return it->second;
}

struct Place {
  std::size_t i;
  std::size_t k;
};

// An inventory subnet, with the object that holds it.
struct SiteSubnet {
  Cidr cidr;
  std::size_t switch_index;
  std::optional<std::size_t> portgroup;  // nullopt: the switch's own subnet
};

class Validator {
 public:
  Validator(const model::FirstDescription& first, const model::SecondDescription& second,
            const model::Inventory* inventory)
      : first_(first), second_(second), inventory_(inventory), source_(first) {}

  model::Problems run() {
    check_app();
    check_networks();
    check_vms();
    check_replication();
    if (inventory_ != nullptr) check_capacity();
    sort_in_document_order(problems_);
    return std::move(problems_);
  }

 private:
  void add(std::string pointer, std::string message) {
    problems_.push_back({std::move(pointer), std::move(message)});
  }

  std::string site() const { return inventory_->site; }

  // ---- app ----

  void check_app() {
    const auto& app = second_.app;
    const auto& src = first_.app;
    if (app.id != src.id) {
      add("/app/id",
          "app id " + quoted(app.id) + " differs from the first description's " + quoted(src.id));
    }
    if (app.name != src.name) {
      add("/app/name", "app name " + quoted(app.name) + " differs from the first description's " +
                           quoted(src.name));
    }
    if (app.source_site != src.site) {
      add("/app/sourceSite", "sourceSite " + quoted(app.source_site) +
                                 " differs from the first description's site " + quoted(src.site));
    }
    if (app.source_generation != src.generation) {
      add("/app/sourceGeneration", "sourceGeneration " + std::to_string(app.source_generation) +
                                       " differs from the first description's generation " +
                                       std::to_string(src.generation));
    }
    if (app.site == app.source_site) {
      add("/app/site", "the DR site " + quoted(app.site) + " is the source site itself");
    }
    if (inventory_ != nullptr && app.site != inventory_->site) {
      add("/app/site", "the description is for site " + quoted(app.site) +
                           ", but the inventory is of site " + quoted(inventory_->site));
    }
  }

  // ---- networks ----

  void check_networks() {
    const auto& networks = second_.networks;
    network_source_.assign(networks.size(), std::nullopt);
    subnets_.resize(networks.size());
    std::vector<std::optional<std::size_t>> backup_of(first_.networks.size());
    ViewPairMap<std::size_t> portgroups;  // (switch, portgroup or "") -> network
    ViewPairMap<std::size_t> vlans;       // (switch, vlan as text) -> network
    std::vector<std::string> vlan_keys(networks.size());
    if (inventory_ != nullptr) index_site();

    for (std::size_t i = 0; i < networks.size(); ++i) {
      const BackupNetwork& n = networks[i];
      if (const auto other = seen_before(networks_, std::string_view(n.id), i)) {
        add(at("networks", i, "id"), "duplicate backup network id " + quoted(n.id) + " (also " +
                                         at("networks", *other) + ")");
      }
      if (const auto src = source_.network(n.source); !src) {
        add(at("networks", i, "source"),
            "no source network " + quoted(n.source) + " in the first description");
      } else if (backup_of[*src]) {
        add(at("networks", i, "source"), "source network " + quoted(n.source) +
                                             " already has backup network " +
                                             quoted(networks[*backup_of[*src]].id) + " (" +
                                             at("networks", *backup_of[*src]) + ")");
      } else {
        backup_of[*src] = i;
        network_source_[i] = *src;
      }
      check_subnets(i);

      const std::string_view portgroup = n.portgroup ? std::string_view(*n.portgroup) : "";
      if (const auto other =
              seen_before(portgroups, std::pair(std::string_view(n.switch_name), portgroup), i)) {
        if (n.portgroup) {
          add(at("networks", i, "portgroup"),
              "portgroup " + quoted(*n.portgroup) + " on switch " + quoted(n.switch_name) +
                  " is also used by backup network " + quoted(networks[*other].id) + " (" +
                  at("networks", *other) + ")");
        } else {
          add(at("networks", i, "switch"), "backup network " + quoted(networks[*other].id) + " (" +
                                               at("networks", *other) + ") also sits on switch " +
                                               quoted(n.switch_name) + " itself");
        }
      } else if (n.vlan) {
        vlan_keys[i] = std::to_string(*n.vlan);
        if (const auto other_vlan = seen_before(
                vlans, std::pair(std::string_view(n.switch_name), std::string_view(vlan_keys[i])),
                i)) {
          add(at("networks", i, "vlan"),
              "VLAN " + vlan_keys[i] + " on switch " + quoted(n.switch_name) +
                  " is also used by backup network " + quoted(networks[*other_vlan].id) + " (" +
                  at("networks", *other_vlan) + "): the two would share one broadcast domain");
        }
      }
      if (inventory_ != nullptr) check_network_at_site(i);
    }
    for (std::size_t s = 0; s < first_.networks.size(); ++s) {
      if (!backup_of[s]) {
        add("/networks", "source network " + quoted(first_.networks[s].name) + " (" +
                             first_.networks[s].id + ") has no backup network");
      }
    }
    check_overlaps();
  }

  void check_subnets(std::size_t i) {
    const BackupNetwork& n = second_.networks[i];
    auto& parsed = subnets_[i];
    for (std::size_t k = 0; k < n.subnets.size(); ++k) {
      const auto& subnet = n.subnets[k];
      parsed.push_back(Cidr::parse(subnet.cidr));
      if (!parsed.back()) {
        add(at("networks", i, "subnets", k, "cidr"),
            Cidr::why_invalid(subnet.cidr) + ": " + quoted(subnet.cidr));
        continue;
      }
      if (!subnet.gateway) continue;
      const auto gateway = Ipv4::parse(*subnet.gateway);
      if (!gateway || !parsed.back()->contains(*gateway)) {
        add(at("networks", i, "subnets", k, "gateway"),
            "gateway " + *subnet.gateway + " is not in subnet " + subnet.cidr);
      }
    }
  }

  // Overlapping subnets between (or within) backup networks: sorted by start address, each
  // subnet is compared with the widest-reaching one before it. An identical subnet overlaps.
  void check_overlaps() {
    struct Range {
      std::uint64_t start, end;  // [start, end)
      Place where;
    };
    std::vector<Range> ranges;
    for (std::size_t i = 0; i < subnets_.size(); ++i) {
      for (std::size_t k = 0; k < subnets_[i].size(); ++k) {
        if (!subnets_[i][k]) continue;
        const std::uint64_t start = subnets_[i][k]->network().value();
        ranges.push_back(
            {start, start + (std::uint64_t{1} << (32 - subnets_[i][k]->prefix())), {i, k}});
      }
    }
    std::stable_sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
      return a.start != b.start ? a.start < b.start : a.end > b.end;
    });
    const Range* reach = nullptr;
    for (const Range& r : ranges) {
      if (reach != nullptr && r.start < reach->end) {
        const auto& other = second_.networks[reach->where.i];
        add(at("networks", r.where.i, "subnets", r.where.k, "cidr"),
            "subnet " + second_.networks[r.where.i].subnets[r.where.k].cidr + " overlaps subnet " +
                other.subnets[reach->where.k].cidr +
                (reach->where.i == r.where.i ? std::string(" of the same network")
                                             : " of backup network " + quoted(other.id)) +
                " (" + at("networks", reach->where.i, "subnets", reach->where.k) + ")");
      }
      if (reach == nullptr || r.end > reach->end) reach = &r;
    }
  }

  // ---- networks at the site ----

  void index_site() {
    const auto& switches = inventory_->switches;
    for (std::size_t s = 0; s < switches.size(); ++s) {
      site_switches_.emplace(switches[s].name, s);
      for (const auto& subnet : switches[s].subnets) {
        if (auto cidr = Cidr::parse(subnet.cidr)) site_subnets_.push_back({*cidr, s, {}});
      }
      for (std::size_t g = 0; g < switches[s].portgroups.size(); ++g) {
        for (const auto& subnet : switches[s].portgroups[g].subnets) {
          if (auto cidr = Cidr::parse(subnet.cidr)) site_subnets_.push_back({*cidr, s, g});
        }
      }
    }
  }

  void check_network_at_site(std::size_t i) {
    const BackupNetwork& n = second_.networks[i];
    const auto found = site_switches_.find(n.switch_name);
    if (found == site_switches_.end()) {
      add(at("networks", i, "switch"),
          "switch " + quoted(n.switch_name) + " does not exist at " + site());
      check_subnets_at_site(i, std::nullopt, std::nullopt);
      return;
    }
    const auto& sw = inventory_->switches[found->second];
    std::optional<std::size_t> own;  // this network's portgroup, left by an earlier restore
    if (n.portgroup) {
      for (std::size_t g = 0; g < sw.portgroups.size(); ++g) {
        const auto& pg = sw.portgroups[g];
        if (pg.name == *n.portgroup) {
          if (pg.vlan == n.vlan) {
            own = g;
          } else {
            add(at("networks", i, "portgroup"),
                "portgroup " + quoted(pg.name) + " already exists on switch " + quoted(sw.name) +
                    " at " + site() + " with " + vlan_text(pg.vlan) + ", not this network's " +
                    vlan_text(n.vlan));
          }
        } else if (n.vlan && pg.vlan == n.vlan) {
          add(at("networks", i, "vlan"), vlan_text(n.vlan) + " is already used on switch " +
                                             quoted(sw.name) + " at " + site() + " by portgroup " +
                                             quoted(pg.name));
        }
      }
      if (n.vlan && sw.vlan == n.vlan) {
        add(at("networks", i, "vlan"), vlan_text(n.vlan) + " is already used at " + site() +
                                           " by switch " + quoted(sw.name) + " itself");
      }
    } else {
      if (sw.vlan != n.vlan) {
        add(at("networks", i, "vlan"), "the network sits on switch " + quoted(sw.name) +
                                           " itself, which has " + vlan_text(sw.vlan) + " at " +
                                           site() + ", not " + vlan_text(n.vlan));
      }
      for (const auto& pg : sw.portgroups) {
        if (n.vlan && pg.vlan == n.vlan) {
          add(at("networks", i, "vlan"), vlan_text(n.vlan) + " is already used on switch " +
                                             quoted(sw.name) + " at " + site() + " by portgroup " +
                                             quoted(pg.name));
        }
      }
    }
    // A network on the switch itself shares the switch's subnets; a portgroup shares its own.
    check_subnets_at_site(i, found->second, n.portgroup ? own : std::nullopt);
  }

  // Subnets of backup network `i` that overlap a subnet the site already has, other than the
  // network's own: its portgroup `own` on switch `home`, or switch `home` itself when the network
  // sits on it.
  void check_subnets_at_site(std::size_t i, std::optional<std::size_t> home,
                             std::optional<std::size_t> own) {
    const BackupNetwork& n = second_.networks[i];
    for (std::size_t k = 0; k < subnets_[i].size(); ++k) {
      if (!subnets_[i][k]) continue;
      for (const SiteSubnet& s : site_subnets_) {
        const bool is_own = home && s.switch_index == *home &&
                            (n.portgroup ? s.portgroup && s.portgroup == own : !s.portgroup);
        if (is_own || !s.cidr.overlaps(*subnets_[i][k])) continue;
        const auto& sw = inventory_->switches[s.switch_index];
        add(at("networks", i, "subnets", k, "cidr"),
            "subnet " + n.subnets[k].cidr + " overlaps " + s.cidr.to_string() + " of " +
                (s.portgroup ? "portgroup " + quoted(sw.portgroups[*s.portgroup].name) +
                                   " on switch " + quoted(sw.name)
                             : "switch " + quoted(sw.name)) +
                " at " + site());
      }
    }
  }

  // ---- vms ----

  void check_vms() {
    const auto& vms = second_.vms;
    backup_of_vm_.assign(first_.vms.size(), std::nullopt);
    ViewMap<std::size_t> ids, names;
    ViewMap<Place> macs;
    std::unordered_map<std::uint32_t, Place> addresses;
    std::unordered_map<std::string, Place> images;  // by model::image_text
    ids.reserve(vms.size());
    names.reserve(vms.size());
    macs.reserve(vms.size() * 2);
    addresses.reserve(vms.size() * 2);
    images.reserve(vms.size() * 2);
    if (inventory_ != nullptr) index_domains();

    for (std::size_t i = 0; i < vms.size(); ++i) {
      const BackupVm& vm = vms[i];
      if (const auto other = seen_before(ids, std::string_view(vm.id), i)) {
        add(at("vms", i, "id"), "duplicate vm id " + vm.id + " (also " + at("vms", *other) + ")");
      }
      if (const auto other = seen_before(names, std::string_view(vm.name), i)) {
        add(at("vms", i, "name"),
            "duplicate vm name " + quoted(vm.name) + " (also " + at("vms", *other) + ")");
      }
      check_spec(i);
      const auto src = source_.vm(vm.source);
      if (!src) {
        add(at("vms", i, "source"),
            "no source vm " + quoted(vm.source) + " in the first description");
      } else if (backup_of_vm_[*src]) {
        add(at("vms", i, "source"), "source vm " + quoted(first_.vms[*src].name) + " (" +
                                        vm.source + ") already has backup vm " +
                                        quoted(vms[*backup_of_vm_[*src]].name) + " (" +
                                        at("vms", *backup_of_vm_[*src]) + ")");
      } else {
        backup_of_vm_[*src] = i;
      }
      check_disks(i, src, images);
      check_nics(i, src, macs, addresses);
      if (inventory_ != nullptr) check_vm_at_site(i);
    }
    for (std::size_t s = 0; s < first_.vms.size(); ++s) {
      if (!backup_of_vm_[s]) {
        add("/vms", "source vm " + quoted(first_.vms[s].name) + " (" + first_.vms[s].id +
                        ") has no backup vm");
      }
    }
  }

  void check_spec(std::size_t i) {
    const auto& spec = second_.vms[i].spec;
    if (spec.vcpus < 1 || spec.vcpus > kMaxVcpus) {
      add(at("vms", i, "spec") + "/vcpus", "vcpus must be between 1 and " +
                                               std::to_string(kMaxVcpus) + ", found " +
                                               std::to_string(spec.vcpus));
    }
    if (spec.memory_mib < 1 || spec.memory_mib > kMaxMemoryMib) {
      add(at("vms", i, "spec") + "/memoryMiB", "memoryMiB must be at least 1 (and at most " +
                                                   std::to_string(kMaxMemoryMib) + "), found " +
                                                   std::to_string(spec.memory_mib));
    }
  }

  void check_disks(std::size_t i, std::optional<std::size_t> src,
                   std::unordered_map<std::string, Place>& images) {
    const BackupVm& vm = second_.vms[i];
    const auto* source_vm = src ? &first_.vms[*src] : nullptr;
    for (std::size_t k = 0; k < vm.disks.size(); ++k) {
      const auto& disk = vm.disks[k];
      for (std::size_t e = 0; e < k; ++e) {
        if (vm.disks[e].target == disk.target) {
          add(at("vms", i, "disks", k, "target"), "duplicate disk target " + quoted(disk.target) +
                                                      " (also " + at("vms", i, "disks", e) + ")");
          break;
        }
      }
      if (const auto other = seen_before(images, model::image_text(disk), Place{i, k})) {
        add(at("vms", i, "disks", k, "image"),
            "image " + quoted_image(disk) + " is also the disk " +
                at("vms", other->i, "disks", other->k) + ": drpair/v1 does not share disks");
      }
      if (source_vm != nullptr) {
        const auto match = std::find_if(source_vm->disks.begin(), source_vm->disks.end(),
                                        [&](const auto& d) { return d.target == disk.target; });
        if (match == source_vm->disks.end()) {
          add(at("vms", i, "disks", k, "target"), "disk " + quoted(disk.target) +
                                                      " is not a disk of source vm " +
                                                      quoted(source_vm->name));
        } else if (match->size_gib && disk.size_gib && *match->size_gib != *disk.size_gib) {
          add(at("vms", i, "disks", k, "sizeGiB"),
              "size " + std::to_string(*disk.size_gib) + " GiB differs from the source disk's " +
                  std::to_string(*match->size_gib) + " GiB (a mirrored image has its size)");
        }
        if (match != source_vm->disks.end() && match->rbd_namespace != disk.rbd_namespace) {
          add(at("vms", i, "disks", k, "namespace"),
              "RBD namespace " + quoted(disk.rbd_namespace) + " differs from the source disk's " +
                  quoted(match->rbd_namespace) +
                  " (rbd-mirror replicates an image into the namespace of its name)");
        }
        if (match != source_vm->disks.end() && match->bus != disk.bus) {
          add(at("vms", i, "disks", k, "bus"),
              "bus " + quoted(disk.bus.value_or("virtio")) + " differs from the source disk's " +
                  quoted(match->bus.value_or("virtio")) +
                  " (the guest finds its disks where they were)");
        }
      }
      if (inventory_ != nullptr) check_disk_at_site(i, k);
    }
    if (source_vm == nullptr) return;
    for (const auto& d : source_vm->disks) {
      const bool found = std::any_of(vm.disks.begin(), vm.disks.end(),
                                     [&](const auto& b) { return b.target == d.target; });
      if (!found) {
        add(at("vms", i, "disks"), "disk " + quoted(d.target) + " (" + quoted_image(d) +
                                       ") of source vm " + quoted(source_vm->name) +
                                       " has no backup disk");
      }
    }
  }

  void check_nics(std::size_t i, std::optional<std::size_t> src, ViewMap<Place>& macs,
                  std::unordered_map<std::uint32_t, Place>& addresses) {
    const BackupVm& vm = second_.vms[i];
    const auto* source_vm = src ? &first_.vms[*src] : nullptr;
    for (std::size_t j = 0; j < vm.nics.size(); ++j) {
      const auto& nic = vm.nics[j];
      if (const auto other = seen_before(macs, std::string_view(nic.mac), Place{i, j})) {
        add(at("vms", i, "nics", j, "mac"),
            "duplicate MAC " + nic.mac + " (also " + at("vms", other->i, "nics", other->k) + ")");
      }
      const model::SourceNic* source_nic = nullptr;
      if (source_vm != nullptr) {
        const auto match = std::find_if(source_vm->nics.begin(), source_vm->nics.end(),
                                        [&](const auto& n) { return n.mac == nic.mac; });
        if (match == source_vm->nics.end()) {
          add(at("vms", i, "nics", j, "mac"),
              "MAC " + nic.mac + " is not a NIC of source vm " + quoted(source_vm->name));
        } else {
          source_nic = &*match;
          if (match->model != nic.model) {
            add(at("vms", i, "nics", j, "model"),
                "model " + quoted(nic.model.value_or("virtio")) + " differs from the source NIC's " +
                    quoted(match->model.value_or("virtio")) +
                    " (the guest finds its NICs as they were)");
          }
        }
      }
      const auto network = networks_.find(nic.network);
      if (network == networks_.end()) {
        add(at("vms", i, "nics", j, "network"),
            "no backup network " + quoted(nic.network) + " in this description");
      } else if (source_nic != nullptr) {
        const auto expected = source_.nic_network(*source_nic);
        const auto actual = network_source_[network->second];
        if (expected && actual && *expected != *actual) {
          add(at("vms", i, "nics", j, "network"),
              "backup network " + quoted(nic.network) + " backs source network " +
                  quoted(first_.networks[*actual].id) + ", but the source NIC is on " +
                  quoted(first_.networks[*expected].id));
        }
      }
      if (nic.ip) {
        check_address(i, j,
                      network == networks_.end() ? std::nullopt : std::optional(network->second),
                      addresses);
      }
    }
    if (source_vm == nullptr) return;
    for (const auto& n : source_vm->nics) {
      const bool found = std::any_of(vm.nics.begin(), vm.nics.end(),
                                     [&](const auto& b) { return b.mac == n.mac; });
      if (!found) {
        add(at("vms", i, "nics"),
            "NIC " + n.mac + " of source vm " + quoted(source_vm->name) + " has no backup NIC");
      }
    }
  }

  // The address of NIC j of VM i: well formed, unique, inside a subnet of its network (when the
  // network declares subnets: without any, nothing is known to check against) and not that
  // subnet's gateway, network or broadcast address.
  void check_address(std::size_t i, std::size_t j, std::optional<std::size_t> network,
                     std::unordered_map<std::uint32_t, Place>& addresses) {
    const auto& text = *second_.vms[i].nics[j].ip;
    const std::string pointer = at("vms", i, "nics", j, "ip");
    const auto address = Ipv4::parse(text);
    if (!address) {
      add(pointer, "not an IPv4 address: " + quoted(text));
      return;
    }
    if (const auto other = seen_before(addresses, address->value(), Place{i, j})) {
      add(pointer,
          "duplicate address " + text + " (also " + at("vms", other->i, "nics", other->k) + ")");
    }
    if (!network || subnets_[*network].empty()) return;
    const auto& n = second_.networks[*network];
    for (std::size_t k = 0; k < subnets_[*network].size(); ++k) {
      const auto& cidr = subnets_[*network][k];
      if (!cidr || !cidr->contains(*address)) continue;
      if (n.subnets[k].gateway == text) {
        add(pointer, "address " + text + " is the gateway of subnet " + n.subnets[k].cidr);
      } else if (cidr->prefix() <= 30 && address->value() == cidr->network().value()) {
        add(pointer, "address " + text + " is the network address of subnet " + n.subnets[k].cidr);
      } else if (cidr->prefix() <= 30 &&
                 address->value() == (cidr->network().value() | ~cidr->mask())) {
        add(pointer,
            "address " + text + " is the broadcast address of subnet " + n.subnets[k].cidr);
      }
      return;
    }
    std::string list;
    for (const auto& s : n.subnets) list += (list.empty() ? "" : ", ") + s.cidr;
    add(pointer, "address " + text + " is in no subnet of backup network " + quoted(n.id) + " (" +
                     list + ")");
  }

  // ---- vms at the site ----

  void index_domains() {
    for (std::size_t d = 0; d < inventory_->domains.size(); ++d) {
      domain_names_.emplace(inventory_->domains[d].name, d);
      domain_ids_.emplace(inventory_->domains[d].id, d);
    }
    for (std::size_t p = 0; p < inventory_->pools.size(); ++p) {
      site_pools_.emplace(inventory_->pools[p].name, p);
    }
    pool_need_.assign(inventory_->pools.size(), 0);
    pool_crossing_.assign(inventory_->pools.size(), std::nullopt);
  }

  void check_vm_at_site(std::size_t i) {
    const BackupVm& vm = second_.vms[i];
    const auto& app = second_.app.id;
    if (const auto d = domain_names_.find(vm.name); d != domain_names_.end()) {
      const auto& dom = inventory_->domains[d->second];
      if (dom.id != vm.id || dom.app != app) {
        add(at("vms", i, "name"),
            "a domain named " + quoted(vm.name) + " already exists at " + site() + " (id " +
                dom.id + ", " + (dom.app ? "app " + quoted(*dom.app) : "not a drpair app") + ")");
      }
    }
    if (const auto d = domain_ids_.find(vm.id); d != domain_ids_.end()) {
      const auto& dom = inventory_->domains[d->second];
      if (dom.name != vm.name) {
        add(at("vms", i, "id"), "domain id " + vm.id + " is already used at " + site() +
                                    " by domain " + quoted(dom.name));
      }
    }
    const auto& hosts = inventory_->hosts;
    if (hosts.empty()) return;
    const auto cpus = std::max_element(
        hosts.begin(), hosts.end(), [](const auto& a, const auto& b) { return a.cpus < b.cpus; });
    const auto memory =
        std::max_element(hosts.begin(), hosts.end(),
                         [](const auto& a, const auto& b) { return a.memory_mib < b.memory_mib; });
    if (vm.spec.vcpus > cpus->cpus) {
      add(at("vms", i, "spec") + "/vcpus",
          "vm " + quoted(vm.name) + " needs " + std::to_string(vm.spec.vcpus) +
              " vCPUs; the largest host at " + site() + " (" + quoted(cpus->name) + ") has " +
              std::to_string(cpus->cpus) + " CPUs");
    }
    if (vm.spec.memory_mib > memory->memory_mib) {
      add(at("vms", i, "spec") + "/memoryMiB",
          "vm " + quoted(vm.name) + " needs " + std::to_string(vm.spec.memory_mib) +
              " MiB of memory; the largest host at " + site() + " (" + quoted(memory->name) +
              ") has " + std::to_string(memory->memory_mib) + " MiB");
    }
  }

  void check_disk_at_site(std::size_t i, std::size_t k) {
    const auto& disk = second_.vms[i].disks[k];
    const auto pool = site_pools_.find(disk.pool);
    if (pool == site_pools_.end()) {
      add(at("vms", i, "disks", k, "pool"),
          "pool " + quoted(disk.pool) + " does not exist at " + site());
      return;
    }
    const auto& free = inventory_->pools[pool->second].free_gib;
    if (!free || !disk.size_gib) return;
    auto& need = pool_need_[pool->second];
    const bool was_enough = need <= *free;
    need += *disk.size_gib;
    if (was_enough && need > *free) pool_crossing_[pool->second] = Place{i, k};
  }

  // The whole app against the site: free memory, vCPUs the hosts may still allocate, pool space.
  void check_capacity() {
    const auto& hosts = inventory_->hosts;
    if (hosts.empty()) {
      add("/vms",
          site() + " has no hosts to run the app's " + std::to_string(second_.vms.size()) + " vms");
    } else {
      std::int64_t memory = 0, vcpus = 0, free_memory = 0;
      double free_vcpus = 0;
      for (const auto& vm : second_.vms) {
        memory += vm.spec.memory_mib;
        vcpus += vm.spec.vcpus;
      }
      for (const auto& h : hosts) {
        free_memory += h.free_memory_mib;
        free_vcpus += std::max(0.0, h.cpus * inventory_->cpu_allocation_ratio - h.allocated_vcpus);
      }
      if (memory > free_memory) {
        add("/vms", "the app needs " + std::to_string(memory) + " MiB of memory; the hosts of " +
                        site() + " have " + std::to_string(free_memory) + " MiB free");
      }
      if (static_cast<double>(vcpus) > free_vcpus) {
        add("/vms", "the app needs " + std::to_string(vcpus) + " vCPUs; the hosts of " + site() +
                        " can allocate " + std::to_string(static_cast<std::int64_t>(free_vcpus)) +
                        " more (cpuAllocationRatio " +
                        std::to_string(inventory_->cpu_allocation_ratio) + ")");
      }
    }
    for (std::size_t p = 0; p < pool_crossing_.size(); ++p) {
      if (!pool_crossing_[p]) continue;
      const auto& pool = inventory_->pools[p];
      add(at("vms", pool_crossing_[p]->i, "disks", pool_crossing_[p]->k, "sizeGiB"),
          "the app's disks in pool " + quoted(pool.name) + " need " +
              std::to_string(pool_need_[p]) + " GiB; it has " + std::to_string(*pool.free_gib) +
              " GiB free at " + site() + " (this disk is the first that does not fit)");
    }
  }

  // ---- replication ----

  void check_replication() {
    const auto& pairs = second_.replication;
    std::vector<std::vector<bool>> replicated(first_.vms.size());
    for (std::size_t s = 0; s < first_.vms.size(); ++s) {
      replicated[s].assign(first_.vms[s].disks.size(), false);
    }
    std::unordered_map<std::string, std::size_t> sources, targets;  // by model::image_text
    sources.reserve(pairs.size());
    targets.reserve(pairs.size());
    for (std::size_t r = 0; r < pairs.size(); ++r) {
      const auto& pair = pairs[r];
      if (pair.interval_minutes < 1) {
        add(at("replication", r, "intervalMinutes"),
            "intervalMinutes must be at least 1, found " + std::to_string(pair.interval_minutes));
      }
      const std::string source = model::image_text(pair.source);
      const std::string target = model::image_text(pair.target);
      if (const auto other = seen_before(targets, target, r)) {
        add(at("replication", r, "target"),
            "target image " + quoted(target) + " is also the target of " +
                at("replication", *other));
      }
      if (source != target) {
        add(at("replication", r, "target"),
            "RBD mirroring keeps the pool, namespace and image name: the target of " +
                quoted(source) + " must be the same, not " + quoted(target));
      }
      if (inventory_ != nullptr && !site_pools_.contains(pair.target.pool)) {
        add(at("replication", r, "target") + "/pool",
            "pool " + quoted(pair.target.pool) + " does not exist at " + site());
      }
      const auto disk = source_.disk(source);
      if (!disk) {
        add(at("replication", r, "source"),
            "image " + quoted(source) + " is not a disk of any source vm");
        continue;
      }
      if (const auto other = seen_before(sources, source, r)) {
        add(at("replication", r, "source"), "image " + quoted(source) +
                                                " is already replicated by " +
                                                at("replication", *other));
        continue;
      }
      replicated[disk->vm][disk->disk] = true;
      check_target(r, *disk);
    }
    for (std::size_t s = 0; s < first_.vms.size(); ++s) {
      for (std::size_t k = 0; k < first_.vms[s].disks.size(); ++k) {
        if (replicated[s][k]) continue;
        const auto& d = first_.vms[s].disks[k];
        // A disk whose image repeats elsewhere in the first description is replicated once,
        // through its first occurrence; the repeat is reported as a shared image.
        const auto owner = source_.disk(model::image_text(d));
        if (owner && (owner->vm != s || owner->disk != k)) continue;
        add("/replication", "disk " + quoted(d.target) + " (" + quoted_image(d) +
                                ") of source vm " + quoted(first_.vms[s].name) +
                                " has no replication pair");
      }
    }
  }

  // A pair's target must be the image the backup VM boots from: its disk with the source
  // disk's target.
  void check_target(std::size_t r, DiskRef disk) {
    const auto backup = backup_of_vm_[disk.vm];
    if (!backup) return;  // reported at /vms
    const auto& target = second_.replication[r].target;
    const auto& source_disk = first_.vms[disk.vm].disks[disk.disk];
    const auto& vm = second_.vms[*backup];
    for (std::size_t k = 0; k < vm.disks.size(); ++k) {
      const auto& d = vm.disks[k];
      if (d.target != source_disk.target) continue;
      if (model::image_text(d) != model::image_text(target)) {
        add(at("replication", r, "target"),
            "target " + quoted_image(target) + " is not the backup disk " +
                quoted_image(d) + " of vm " + quoted(vm.name) + " (" +
                at("vms", *backup, "disks", k) + ")");
      }
      return;
    }
  }

  const model::FirstDescription& first_;
  const model::SecondDescription& second_;
  const model::Inventory* inventory_;
  SourceIndex source_;
  model::Problems problems_;

  ViewMap<std::size_t> networks_;                           // backup network id -> index
  std::vector<std::optional<std::size_t>> network_source_;  // backup network -> source network
  std::vector<std::vector<std::optional<Cidr>>> subnets_;   // backup network -> parsed subnets
  std::vector<std::optional<std::size_t>> backup_of_vm_;    // source vm -> its backup vm

  ViewMap<std::size_t> site_switches_, site_pools_, domain_names_, domain_ids_;
  std::vector<SiteSubnet> site_subnets_;
  std::vector<std::int64_t> pool_need_;
  std::vector<std::optional<Place>> pool_crossing_;
};

}  // namespace

model::Problems validate(const model::FirstDescription& first,
                         const model::SecondDescription& second,
                         const model::Inventory* inventory) {
  return Validator(first, second, inventory).run();
}

}  // namespace dr::mapping
