// generate(): the second description of an application, from its first description and the DR
// site's mapping policy (README, "The mapping rules" > "Generate").
//
// The second description keeps the first's order: backup network i backs source network i and
// backup VM i backs source VM i, with the same disks and NICs in the same places. So a pointer
// such as "/vms/2/nics/1" names the same NIC in both documents, and problems found by validating
// the result read as problems of the input.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "mapping/document_order.hpp"
#include "mapping/mapping.hpp"
#include "mapping/source_index.hpp"
#include "model/json_io.hpp"
#include "model/net_address.hpp"

namespace dr::mapping {
namespace {

using model::Cidr;
using model::Ipv4;
using model::translate;

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string at(std::string_view base, std::size_t i, std::string_view rest = {}) {
  return std::string(base) + "/" + std::to_string(i) + std::string(rest);
}

// ceil(value * percent / 100), at least 1, saturating instead of overflowing (validate() then
// reports the spec as beyond the schema's limits).
std::int64_t scale(std::int64_t value, int percent) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  const std::int64_t whole = value / 100;
  const std::int64_t rest = value % 100;
  if (whole > kMax / percent) return kMax;
  const std::int64_t scaled = whole * percent + (rest * percent + 99) / 100;
  return std::max<std::int64_t>(1, scaled);
}

// How one source subnet maps: into `to` (which equals `from` when no rule moves it).
struct SubnetMap {
  std::optional<Cidr> from, to;
};

class Generator {
 public:
  Generator(const model::FirstDescription& first, const model::MappingPolicy& policy,
            const model::Inventory* inventory)
      : first_(first), policy_(policy), inventory_(inventory), source_(first) {}

  model::Parsed<model::SecondDescription> run() {
    check_policy();
    check_source_ids();
    if (problems_.empty()) {
      map_app();
      map_networks();
      map_vms();
      map_replication();
    }
    if (!problems_.empty()) {
      sort_in_document_order(problems_);
      return std::move(problems_);
    }
    auto problems = validate(first_, second_, inventory_);
    if (!problems.empty()) return problems;
    return std::move(second_);
  }

 private:
  void add(std::string pointer, std::string message) {
    problems_.push_back({std::move(pointer), std::move(message)});
  }

  // ---- the policy against the first description ----

  void check_policy() {
    rule_of_.assign(first_.networks.size(), nullptr);
    for (std::size_t r = 0; r < policy_.networks.size(); ++r) {
      const auto& rule = policy_.networks[r];
      const std::string pointer = at("/policy/networks", r);
      const auto network = source_.network(rule.source);
      if (!network) {
        add(pointer + "/source", "no source network " + quoted(rule.source) + " in the app");
        continue;
      }
      if (rule_of_[*network] != nullptr) {
        add(pointer + "/source",
            "a second rule for source network " + quoted(rule.source) + " (the first is " +
                at("/policy/networks",
                   static_cast<std::size_t>(rule_of_[*network] - policy_.networks.data())) +
                ")");
        continue;
      }
      rule_of_[*network] = &rule;
      check_subnet_rules(r, *network);
    }
    for (std::size_t p = 0; p < policy_.pools.size(); ++p) {
      const auto& rule = policy_.pools[p];
      if (auto why = model::pool_rule_problem(rule); !why.empty()) {
        add(at("/policy/pools", p, "/target"), why);
      }
      const auto [it, inserted] = pools_.emplace(rule.source, &rule);
      if (!inserted) {
        add(at("/policy/pools", p, "/source"),
            "a second rule for pool " + quoted(rule.source) + " (the first is " +
                at("/policy/pools", static_cast<std::size_t>(it->second - policy_.pools.data())) +
                ")");
      }
    }
    if (policy_.spec.memory_percent <= 0) {
      add("/policy/spec/memoryPercent",
          "must be greater than 0, found " + std::to_string(policy_.spec.memory_percent));
    }
    if (policy_.spec.vcpus_percent <= 0) {
      add("/policy/spec/vcpusPercent",
          "must be greater than 0, found " + std::to_string(policy_.spec.vcpus_percent));
    }
    if (policy_.replication.interval_minutes < 1) {
      add("/policy/replication/intervalMinutes",
          "must be at least 1, found " + std::to_string(policy_.replication.interval_minutes));
    }
  }

  // The subnet rules of network rule r (for source network n): each names one of the network's
  // subnets, once, and maps it to a valid subnet holding the rule's gateway.
  void check_subnet_rules(std::size_t r, std::size_t n) {
    const auto& rule = policy_.networks[r];
    const auto& network = first_.networks[n];
    auto& maps = subnet_maps_[n];
    maps.resize(network.subnets.size());
    for (std::size_t k = 0; k < network.subnets.size(); ++k) {
      maps[k].from = maps[k].to = source_.subnets(n)[k];
    }
    std::vector<bool> ruled(network.subnets.size(), false);
    for (std::size_t s = 0; s < rule.subnets.size(); ++s) {
      const auto& sr = rule.subnets[s];
      const std::string pointer = at(at("/policy/networks", r, "/subnets"), s);
      const auto from = Cidr::parse(sr.source);
      const auto to = Cidr::parse(sr.cidr);
      if (!from) add(pointer + "/source", Cidr::why_invalid(sr.source) + ": " + quoted(sr.source));
      if (!to) add(pointer + "/cidr", Cidr::why_invalid(sr.cidr) + ": " + quoted(sr.cidr));
      if (!from || !to) continue;
      const auto& subnets = source_.subnets(n);
      const auto k = static_cast<std::size_t>(std::find(subnets.begin(), subnets.end(), from) -
                                              subnets.begin());
      if (k == subnets.size()) {
        add(pointer + "/source",
            sr.source + " is not a subnet of source network " + quoted(network.id));
        continue;
      }
      if (ruled[k]) {
        add(pointer + "/source",
            "a second rule for subnet " + sr.source + " of network " + quoted(network.id));
        continue;
      }
      ruled[k] = true;
      maps[k].to = to;
      if (sr.gateway) {
        const auto gateway = Ipv4::parse(*sr.gateway);
        if (!gateway || !to->contains(*gateway)) {
          add(pointer + "/gateway", "gateway " + *sr.gateway + " is not in " + sr.cidr);
        }
      } else if (const auto& old = network.subnets[k].gateway) {
        const auto gateway = Ipv4::parse(*old);
        if (gateway && from->contains(*gateway) && !translate(*gateway, *from, *to)) {
          add(pointer, "the source gateway " + *old + " does not fit in " + sr.cidr +
                           " keeping its host part; give the rule a 'gateway'");
        }
      }
    }
  }

  // Ids the mapping is keyed on must be unique, or "the backup of network X" is ambiguous.
  void check_source_ids() {
    ViewMap<std::size_t> networks, vms;
    for (std::size_t n = 0; n < first_.networks.size(); ++n) {
      const auto [it, inserted] = networks.emplace(first_.networks[n].id, n);
      if (!inserted) {
        add(at("/networks", n, "/id"), "duplicate network id " + quoted(first_.networks[n].id) +
                                           " (also " + at("/networks", it->second) + ")");
      }
    }
    vms.reserve(first_.vms.size());
    for (std::size_t v = 0; v < first_.vms.size(); ++v) {
      const auto [it, inserted] = vms.emplace(first_.vms[v].id, v);
      if (!inserted) {
        add(at("/vms", v, "/id"),
            "duplicate vm id " + first_.vms[v].id + " (also " + at("/vms", it->second) + ")");
      }
    }
  }

  // ---- the mapping ----

  void map_app() {
    auto& app = second_.app;
    app.id = first_.app.id;
    app.name = first_.app.name;
    app.source_site = first_.app.site;
    app.source_generation = first_.app.generation;
    app.site = policy_.site            ? *policy_.site
               : inventory_ != nullptr ? inventory_->site
                                       : first_.app.site + "-dr";
  }

  void map_networks() {
    second_.networks.reserve(first_.networks.size());
    for (std::size_t n = 0; n < first_.networks.size(); ++n) {
      const auto& src = first_.networks[n];
      const model::NetworkRule* rule = rule_of_[n];
      model::BackupNetwork& b = second_.networks.emplace_back();
      b.id = src.id;
      b.source = src.id;
      b.name = src.name;
      b.switch_name = rule && rule->switch_name ? *rule->switch_name
                      : policy_.default_switch  ? *policy_.default_switch
                                                : src.switch_name;
      b.portgroup = rule && rule->portgroup ? rule->portgroup : src.portgroup;
      b.vlan = rule && rule->vlan ? rule->vlan : src.vlan;
      b.subnets = src.subnets;
      if (rule == nullptr) continue;
      for (const auto& sr : rule->subnets) {
        const auto& maps = subnet_maps_[n];
        const auto from = Cidr::parse(sr.source);
        for (std::size_t k = 0; k < maps.size(); ++k) {
          if (maps[k].from != from) continue;
          b.subnets[k].cidr = maps[k].to->to_string();
          b.subnets[k].gateway = sr.gateway ? sr.gateway : translated_gateway(n, k);
        }
      }
    }
  }

  std::optional<std::string> translated_gateway(std::size_t n, std::size_t k) const {
    const auto& old = first_.networks[n].subnets[k].gateway;
    const auto& map = subnet_maps_.at(n)[k];
    const auto gateway = old ? Ipv4::parse(*old) : std::nullopt;
    if (!gateway || !map.from->contains(*gateway)) return old;
    return translate(*gateway, *map.from, *map.to)->to_string();
  }

  void map_vms() {
    second_.vms.reserve(first_.vms.size());
    for (std::size_t v = 0; v < first_.vms.size(); ++v) {
      const auto& src = first_.vms[v];
      model::BackupVm& b = second_.vms.emplace_back();
      b.id = src.id;
      b.source = src.id;
      b.name = src.name;
      b.boot_order = src.boot_order;
      b.spec.vcpus = static_cast<int>(std::min<std::int64_t>(
          scale(src.spec.vcpus, policy_.spec.vcpus_percent), std::numeric_limits<int>::max()));
      b.spec.memory_mib = scale(src.spec.memory_mib, policy_.spec.memory_percent);
      b.disks = src.disks;
      for (auto& disk : b.disks) disk.pool = target_pool(disk.pool);
      b.nics.reserve(src.nics.size());
      for (std::size_t j = 0; j < src.nics.size(); ++j) map_nic(v, j, b.nics.emplace_back());
    }
  }

  const std::string& target_pool(const std::string& pool) const {
    const auto it = pools_.find(pool);
    return it == pools_.end() ? pool : it->second->target;
  }

  void map_nic(std::size_t v, std::size_t j, model::BackupNic& out) {
    const auto& nic = first_.vms[v].nics[j];
    const std::string pointer = at(at("/vms", v, "/nics"), j);
    out.mac = nic.mac;
    out.model = nic.model;
    const auto network = source_.nic_network(nic);
    if (!network) {
      explain_unplaced(nic, pointer);
      return;
    }
    out.network = first_.networks[*network].id;  // the backup network keeps the source's id
    if (!nic.ip) return;
    out.ip = nic.ip;
    const auto address = Ipv4::parse(*nic.ip);
    if (!address) return;  // validate() names it
    const auto& subnets = source_.subnets(*network);
    const auto k = source_.subnet_holding(*network, *address);
    if (!k) {
      if (!subnets.empty()) {
        add(pointer + "/ip", "address " + *nic.ip + " is in no subnet of network " +
                                 quoted(first_.networks[*network].id));
      }
      return;
    }
    const auto maps = subnet_maps_.find(*network);
    if (maps == subnet_maps_.end() || maps->second[*k].from == maps->second[*k].to) return;
    const auto& map = maps->second[*k];
    if (policy_.ip == model::IpPolicy::keep) {
      add(pointer + "/ip", "address " + *nic.ip + " is kept (policy ip 'keep'), but its subnet " +
                               map.from->to_string() + " maps to " + map.to->to_string() +
                               ": translate it (policy ip 'translate') or keep the subnet");
      return;
    }
    const auto moved = translate(*address, *map.from, *map.to);
    if (!moved) {
      add(pointer + "/ip", "address " + *nic.ip + " does not fit in " + map.to->to_string() +
                               " keeping its host part (translated from " + map.from->to_string() +
                               ")");
      return;
    }
    out.ip = moved->to_string();
  }

  // Why a NIC has no network: it names none the app has, or its address is in no subnet or in
  // the subnets of several networks.
  void explain_unplaced(const model::SourceNic& nic, const std::string& pointer) {
    if (nic.network) {
      add(pointer + "/network", "no network " + quoted(*nic.network) + " among the app's networks");
      return;
    }
    const auto address = nic.ip ? Ipv4::parse(*nic.ip) : std::nullopt;
    if (!address) {
      add(pointer, "the NIC has neither a network nor a valid address");
      return;
    }
    const auto holders = source_.networks_holding(*address);
    if (holders.empty()) {
      add(pointer + "/ip", "address " + *nic.ip + " is in no subnet of the app's networks");
      return;
    }
    std::string names;
    for (const auto n : holders)
      names += (names.empty() ? "" : ", ") + quoted(first_.networks[n].id);
    add(pointer + "/ip", "address " + *nic.ip + " is in subnets of several networks (" + names +
                             "): name the NIC's network");
  }

  // One pair per source image, in document order. An image shared by two disks is replicated
  // once, through its first disk; validate() reports the sharing.
  void map_replication() {
    for (std::size_t v = 0; v < first_.vms.size(); ++v) {
      const auto& src = first_.vms[v].disks;
      const auto& dst = second_.vms[v].disks;
      for (std::size_t k = 0; k < src.size(); ++k) {
        const auto owner = source_.disk(model::image_text(src[k]));
        if (!owner || owner->vm != v || owner->disk != k) continue;
        second_.replication.push_back({{src[k].pool, src[k].image, src[k].rbd_namespace},
                                       {dst[k].pool, dst[k].image, dst[k].rbd_namespace},
                                       policy_.replication.mode,
                                       policy_.replication.interval_minutes});
      }
    }
  }

  const model::FirstDescription& first_;
  const model::MappingPolicy& policy_;
  const model::Inventory* inventory_;
  SourceIndex source_;
  model::Problems problems_;
  model::SecondDescription second_;

  std::vector<const model::NetworkRule*> rule_of_;  // source network -> its rule, if any
  // Source networks with a rule -> how each of their subnets maps (looked up, never iterated).
  std::unordered_map<std::size_t, std::vector<SubnetMap>> subnet_maps_;
  ViewMap<const model::PoolRule*> pools_;  // source pool -> its rule
};

}  // namespace

model::Parsed<model::SecondDescription> generate(const model::FirstDescription& first,
                                                 const model::MappingPolicy& policy,
                                                 const model::Inventory* inventory) {
  return Generator(first, policy, inventory).run();
}

}  // namespace dr::mapping
