#include "model/json_io.hpp"

#include <cmath>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <type_traits>

#include "model/json_reader.hpp"
#include "model/net_address.hpp"

namespace dr::model {
namespace {

using json = nlohmann::json;
constexpr std::int64_t kMaxInt = JsonReader::kMaxInt;
constexpr std::int64_t kMaxBig = JsonReader::kMaxBig;

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }


// JsonReader with the drpair/v1 field formats: addresses, CIDRs, MACs and the document header.
// Each read_* below reads one object; a field that is wrong is reported and left at its default,
// so reading goes on and the caller sees all problems at once.
class Reader : public JsonReader {
 public:
  explicit Reader(bool reject_unknown_keys)
      : JsonReader(reject_unknown_keys ? UnknownKeys::reject : UnknownKeys::accept) {}

  std::optional<std::string> opt_ipv4(const json& obj, const std::string& ptr, const char* key,
                                      bool required = false) {
    auto text = opt_string(obj, ptr, key, required);
    if (text && !Ipv4::parse(*text)) {
      add(pointer_append(ptr, key), "not an IPv4 address: " + in_quotes(*text));
      return std::nullopt;
    }
    return text;
  }

  std::string cidr(const json& obj, const std::string& ptr, const char* key) {
    auto text = opt_string(obj, ptr, key, true);
    if (!text) return {};
    if (const std::string why = Cidr::why_invalid(*text); !why.empty()) {
      add(pointer_append(ptr, key), why + ": " + in_quotes(*text));
    }
    return *text;
  }

  std::string mac(const json& obj, const std::string& ptr, const char* key) {
    auto text = opt_string(obj, ptr, key, true);
    if (!text) return {};
    auto canonical = canonical_mac(*text);
    if (!canonical) {
      add(pointer_append(ptr, key),
          "not a unicast MAC address (six hex pairs, e.g. 52:54:00:10:00:01): " + in_quotes(*text));
      return *text;
    }
    return *canonical;
  }

  // An RBD pool, namespace or image name (is_rbd_name).
  std::string rbd_name(const json& obj, const std::string& ptr, const char* key,
                       bool required = true) {
    auto text = opt_string(obj, ptr, key, required);
    if (!text) return {};
    if (!is_rbd_name(*text)) {
      add(pointer_append(ptr, key), "an RBD name holds no '/' or '@': " + in_quotes(*text));
    }
    return *text;
  }

  void header(const json& doc, const char* kind) {
    const auto api = opt_string(doc, "", "apiVersion", true);
    if (api && *api != kApiVersion) {
      add("/apiVersion",
          "unsupported apiVersion " + in_quotes(*api) + " (expected '" + kApiVersion + "')");
    }
    const auto found = opt_string(doc, "", "kind", true);
    if (found && *found != kind) {
      add("/kind", "expected kind '" + std::string(kind) + "', found " + in_quotes(*found));
    }
  }
};

bool looks_like_rfc3339(const std::string& text) {
  static const std::regex pattern(
      R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$)");
  return std::regex_match(text, pattern);
}

Subnet read_subnet(Reader& r, const json& j, const std::string& p) {
  Subnet s;
  if (!r.object(j, p, {"cidr", "gateway"})) return s;
  s.cidr = r.cidr(j, p, "cidr");
  s.gateway = r.opt_ipv4(j, p, "gateway");
  return s;
}

std::optional<int> read_vlan(Reader& r, const json& j, const std::string& p) {
  const auto vlan = r.opt_integer(j, p, "vlan", 1, 4094);
  return vlan ? std::optional<int>(static_cast<int>(*vlan)) : std::nullopt;
}

std::optional<int> read_boot_order(Reader& r, const json& j, const std::string& p) {
  const auto order = r.opt_integer(j, p, "bootOrder", 0, kMaxInt);
  return order ? std::optional<int>(static_cast<int>(*order)) : std::nullopt;
}

Spec read_spec(Reader& r, const json& j, const std::string& p) {
  Spec spec;
  const json* value = r.member(j, p, "spec", true);
  if (value == nullptr) return spec;
  const std::string at = pointer_append(p, "spec");
  if (!r.object(*value, at, {"vcpus", "memoryMiB"})) return spec;
  spec.vcpus = static_cast<int>(r.integer(*value, at, "vcpus", 1, 4096));
  spec.memory_mib = r.integer(*value, at, "memoryMiB", 1, kMaxBig);
  return spec;
}

Disk read_disk(Reader& r, const json& j, const std::string& p) {
  Disk d;
  if (!r.object(j, p, {"target", "pool", "namespace", "image", "sizeGiB", "bus"})) return d;
  d.target = r.string(j, p, "target");
  d.pool = r.rbd_name(j, p, "pool");
  d.rbd_namespace = r.rbd_name(j, p, "namespace", false);
  d.image = r.rbd_name(j, p, "image");
  d.size_gib = r.opt_integer(j, p, "sizeGiB", 0, kMaxBig);
  d.bus = r.opt_string(j, p, "bus");
  if (d.bus && !is_disk_bus(*d.bus)) {
    r.add(pointer_append(p, "bus"),
          "not a disk bus drpair carries (" + disk_buses_text() + "): " + in_quotes(*d.bus));
  }
  if (d.bus == "virtio") d.bus.reset();  // the default, written by leaving it out
  return d;
}

ImageRef read_image_ref(Reader& r, const json& j, const std::string& p, const char* key) {
  ImageRef ref;
  const json* value = r.member(j, p, key, true);
  if (value == nullptr) return ref;
  const std::string at = pointer_append(p, key);
  if (!r.object(*value, at, {"pool", "namespace", "image"})) return ref;
  ref.pool = r.rbd_name(*value, at, "pool");
  ref.rbd_namespace = r.rbd_name(*value, at, "namespace", false);
  ref.image = r.rbd_name(*value, at, "image");
  return ref;
}

ReplicationMode read_mode(Reader& r, const json& j, const std::string& p, bool required) {
  return r.enumeration(
      j, p, "mode",
      {{"snapshot", ReplicationMode::snapshot}, {"journal", ReplicationMode::journal}},
      ReplicationMode::snapshot, required);
}

int read_interval(Reader& r, const json& j, const std::string& p, bool required) {
  return static_cast<int>(
      r.opt_integer(j, p, "intervalMinutes", 1, 10080 /* a week */, required).value_or(1));
}

// ---- FirstDescription ----

// Source and backup networks share every field but `source` (wire documents accept unknown
// keys, so the key list only matters for the strict policy reader and can name `source` for both).
template <class Network>
Network read_network(Reader& r, const json& j, const std::string& p) {
  Network n;
  if (!r.object(j, p, {"id", "source", "name", "switch", "portgroup", "vlan", "subnets"})) {
    return n;
  }
  n.id = r.string(j, p, "id");
  if constexpr (std::is_same_v<Network, BackupNetwork>) n.source = r.string(j, p, "source");
  n.name = r.string(j, p, "name");
  n.switch_name = r.string(j, p, "switch");
  n.portgroup = r.opt_string(j, p, "portgroup");
  n.vlan = read_vlan(r, j, p);
  n.subnets = r.array(j, p, "subnets", true,
                      [&](const json& s, const std::string& sp) { return read_subnet(r, s, sp); });
  return n;
}

// A NIC's model: a libvirt <model type> name; virtio, the default, is read as absent.
std::optional<std::string> read_nic_model(Reader& r, const json& j, const std::string& p) {
  static const std::regex kModel("[A-Za-z0-9][A-Za-z0-9_.-]{0,31}");
  auto model = r.opt_string(j, p, "model");
  if (model && !std::regex_match(*model, kModel)) {
    r.add(pointer_append(p, "model"), "not a NIC model name (letters, digits, '_', '.', '-'; "
                                      "e.g. virtio, e1000e): " + in_quotes(*model));
  }
  if (model == "virtio") model.reset();
  return model;
}

SourceNic read_source_nic(Reader& r, const json& j, const std::string& p) {
  SourceNic nic;
  if (!r.object(j, p, {"mac", "network", "ip", "model"})) return nic;
  nic.mac = r.mac(j, p, "mac");
  nic.network = r.opt_string(j, p, "network");
  nic.ip = r.opt_ipv4(j, p, "ip");
  nic.model = read_nic_model(r, j, p);
  if (!j.contains("network") && !j.contains("ip")) {
    r.add(p, "a NIC needs its 'network', its 'ip', or both");
  }
  return nic;
}

// Source and backup VMs likewise differ in `source` and in their NICs.
template <class Vm, class ReadNic>
Vm read_vm(Reader& r, const json& j, const std::string& p, ReadNic read_nic) {
  Vm vm;
  if (!r.object(j, p, {"id", "source", "name", "spec", "bootOrder", "disks", "nics"})) return vm;
  vm.id = r.string(j, p, "id");
  if constexpr (std::is_same_v<Vm, BackupVm>) vm.source = r.string(j, p, "source");
  vm.name = r.string(j, p, "name");
  vm.spec = read_spec(r, j, p);
  vm.boot_order = read_boot_order(r, j, p);
  vm.disks = r.array(j, p, "disks", true,
                     [&](const json& d, const std::string& dp) { return read_disk(r, d, dp); });
  vm.nics = r.array(j, p, "nics", true,
                    [&](const json& n, const std::string& np) { return read_nic(r, n, np); });
  return vm;
}

FirstDescription read_first(Reader& r, const json& doc) {
  FirstDescription d;
  if (!r.object(doc, "", {"apiVersion", "kind", "app", "networks", "vms"})) return d;
  r.header(doc, "FirstDescription");
  if (const json* app = r.member(doc, "", "app", true)) {
    if (r.object(*app, "/app", {"id", "name", "site", "generation", "capturedAt"})) {
      d.app.id = r.string(*app, "/app", "id");
      d.app.name = r.string(*app, "/app", "name");
      d.app.site = r.string(*app, "/app", "site");
      d.app.generation = r.integer(*app, "/app", "generation", 0, kMaxBig);
      d.app.captured_at = r.opt_string(*app, "/app", "capturedAt");
      if (d.app.captured_at && !looks_like_rfc3339(*d.app.captured_at)) {
        r.add("/app/capturedAt",
              "not an RFC 3339 time (e.g. 2026-11-24T20:00:00Z): " + in_quotes(*d.app.captured_at));
      }
    }
  }
  d.networks = r.array(doc, "", "networks", true, [&](const json& n, const std::string& p) {
    return read_network<SourceNetwork>(r, n, p);
  });
  d.vms = r.array(doc, "", "vms", true, [&](const json& v, const std::string& p) {
    return read_vm<SourceVm>(r, v, p, read_source_nic);
  });
  if (doc.contains("vms") && doc["vms"].is_array() && doc["vms"].empty()) {
    r.add("/vms", "an application has at least one VM");
  }
  return d;
}

// ---- SecondDescription ----

BackupNic read_backup_nic(Reader& r, const json& j, const std::string& p) {
  BackupNic nic;
  if (!r.object(j, p, {"mac", "network", "ip", "model"})) return nic;
  nic.mac = r.mac(j, p, "mac");
  nic.network = r.string(j, p, "network");
  nic.ip = r.opt_ipv4(j, p, "ip");
  nic.model = read_nic_model(r, j, p);
  return nic;
}

ReplicationPair read_pair(Reader& r, const json& j, const std::string& p) {
  ReplicationPair pair;
  if (!r.object(j, p, {"source", "target", "mode", "intervalMinutes"})) return pair;
  pair.source = read_image_ref(r, j, p, "source");
  pair.target = read_image_ref(r, j, p, "target");
  pair.mode = read_mode(r, j, p, true);
  pair.interval_minutes = read_interval(r, j, p, true);
  return pair;
}

SecondDescription read_second(Reader& r, const json& doc) {
  SecondDescription d;
  if (!r.object(doc, "", {"apiVersion", "kind", "app", "networks", "vms", "replication"})) {
    return d;
  }
  r.header(doc, "SecondDescription");
  if (const json* app = r.member(doc, "", "app", true)) {
    if (r.object(*app, "/app", {"id", "name", "sourceSite", "site", "sourceGeneration"})) {
      d.app.id = r.string(*app, "/app", "id");
      d.app.name = r.string(*app, "/app", "name");
      d.app.source_site = r.string(*app, "/app", "sourceSite");
      d.app.site = r.string(*app, "/app", "site");
      d.app.source_generation = r.integer(*app, "/app", "sourceGeneration", 0, kMaxBig);
    }
  }
  d.networks = r.array(doc, "", "networks", true, [&](const json& n, const std::string& p) {
    return read_network<BackupNetwork>(r, n, p);
  });
  d.vms = r.array(doc, "", "vms", true, [&](const json& v, const std::string& p) {
    return read_vm<BackupVm>(r, v, p, read_backup_nic);
  });
  if (doc.contains("vms") && doc["vms"].is_array() && doc["vms"].empty()) {
    r.add("/vms", "an application has at least one VM");
  }
  d.replication = r.array(doc, "", "replication", true,
                          [&](const json& x, const std::string& p) { return read_pair(r, x, p); });
  return d;
}

// ---- MappingPolicy (unknown keys rejected) ----

NetworkRule read_network_rule(Reader& r, const json& j, const std::string& p) {
  NetworkRule rule;
  if (!r.object(j, p, {"source", "switch", "vlan", "portgroup", "subnets"})) return rule;
  rule.source = r.string(j, p, "source");
  rule.switch_name = r.opt_string(j, p, "switch");
  rule.vlan = read_vlan(r, j, p);
  rule.portgroup = r.opt_string(j, p, "portgroup");
  rule.subnets = r.array(j, p, "subnets", false, [&](const json& s, const std::string& sp) {
    SubnetRule sr;
    if (!r.object(s, sp, {"source", "cidr", "gateway"})) return sr;
    sr.source = r.cidr(s, sp, "source");
    sr.cidr = r.cidr(s, sp, "cidr");
    sr.gateway = r.opt_ipv4(s, sp, "gateway");
    return sr;
  });
  return rule;
}

MappingPolicy read_policy(Reader& r, const json& doc) {
  MappingPolicy d;
  if (!r.object(doc, "",
                {"apiVersion", "kind", "site", "defaultSwitch", "networks", "pools", "ip", "spec",
                 "replication"})) {
    return d;
  }
  r.header(doc, "MappingPolicy");
  d.site = r.opt_string(doc, "", "site");
  d.default_switch = r.opt_string(doc, "", "defaultSwitch");
  d.networks = r.array(doc, "", "networks", false, [&](const json& n, const std::string& p) {
    return read_network_rule(r, n, p);
  });
  d.pools = r.array(doc, "", "pools", false, [&](const json& x, const std::string& p) {
    PoolRule rule;
    if (!r.object(x, p, {"source", "target"})) return rule;
    rule.source = r.string(x, p, "source");
    rule.target = r.string(x, p, "target");
    if (auto why = pool_rule_problem(rule); !why.empty()) r.add(pointer_append(p, "target"), why);
    return rule;
  });
  d.ip =
      r.enumeration(doc, "", "ip", {{"keep", IpPolicy::keep}, {"translate", IpPolicy::translate}},
                    IpPolicy::keep);
  if (const json* spec = r.member(doc, "", "spec", false)) {
    if (r.object(*spec, "/spec", {"memoryPercent", "vcpusPercent"})) {
      d.spec.memory_percent =
          static_cast<int>(r.opt_integer(*spec, "/spec", "memoryPercent", 1, 1000).value_or(100));
      d.spec.vcpus_percent =
          static_cast<int>(r.opt_integer(*spec, "/spec", "vcpusPercent", 1, 1000).value_or(100));
    }
  }
  if (const json* rep = r.member(doc, "", "replication", false)) {
    if (r.object(*rep, "/replication", {"mode", "intervalMinutes"})) {
      d.replication.mode = read_mode(r, *rep, "/replication", false);
      d.replication.interval_minutes = read_interval(r, *rep, "/replication", false);
    }
  }
  return d;
}

// ---- Inventory ----

Inventory read_inv(Reader& r, const json& doc) {
  Inventory d;
  if (!r.object(doc, "",
                {"apiVersion", "kind", "site", "switches", "domains", "pools", "hosts",
                 "cpuAllocationRatio"})) {
    return d;
  }
  r.header(doc, "Inventory");
  d.site = r.string(doc, "", "site");
  const auto subnets = [&](const json& j, const std::string& p) {
    return r.array(j, p, "subnets", false,
                   [&](const json& s, const std::string& sp) { return read_subnet(r, s, sp); });
  };
  d.switches = r.array(doc, "", "switches", true, [&](const json& j, const std::string& p) {
    InventorySwitch s;
    if (!r.object(j, p, {"name", "vlan", "subnets", "portgroups"})) return s;
    s.name = r.string(j, p, "name");
    s.vlan = read_vlan(r, j, p);
    s.subnets = subnets(j, p);
    s.portgroups = r.array(j, p, "portgroups", false, [&](const json& g, const std::string& gp) {
      InventoryPortgroup pg;
      if (!r.object(g, gp, {"name", "vlan", "subnets"})) return pg;
      pg.name = r.string(g, gp, "name");
      pg.vlan = read_vlan(r, g, gp);
      pg.subnets = subnets(g, gp);
      return pg;
    });
    return s;
  });
  d.domains = r.array(doc, "", "domains", true, [&](const json& j, const std::string& p) {
    InventoryDomain dom;
    if (!r.object(j, p, {"name", "id", "app"})) return dom;
    dom.name = r.string(j, p, "name");
    dom.id = r.string(j, p, "id");
    dom.app = r.opt_string(j, p, "app");
    return dom;
  });
  d.pools = r.array(doc, "", "pools", true, [&](const json& j, const std::string& p) {
    InventoryPool pool;
    if (!r.object(j, p, {"name", "freeGiB"})) return pool;
    pool.name = r.string(j, p, "name");
    pool.free_gib = r.opt_integer(j, p, "freeGiB", 0, kMaxBig);
    return pool;
  });
  d.hosts = r.array(doc, "", "hosts", true, [&](const json& j, const std::string& p) {
    InventoryHost h;
    if (!r.object(j, p, {"name", "cpus", "memoryMiB", "freeMemoryMiB", "allocatedVcpus"})) {
      return h;
    }
    h.name = r.string(j, p, "name");
    h.cpus = static_cast<int>(r.integer(j, p, "cpus", 1, kMaxInt));
    h.memory_mib = r.integer(j, p, "memoryMiB", 1, kMaxBig);
    h.free_memory_mib = r.integer(j, p, "freeMemoryMiB", 0, kMaxBig);
    h.allocated_vcpus =
        static_cast<int>(r.opt_integer(j, p, "allocatedVcpus", 0, kMaxInt).value_or(0));
    return h;
  });
  if (const json* ratio = r.member(doc, "", "cpuAllocationRatio", false)) {
    if (!ratio->is_number() || ratio->get<double>() <= 0 || !std::isfinite(ratio->get<double>())) {
      r.add("/cpuAllocationRatio", "must be a number greater than 0");
    } else {
      d.cpu_allocation_ratio = ratio->get<double>();
    }
  }
  return d;
}

template <class T, class F>
Parsed<T> finish(const json& doc, bool strict, F read) {
  Reader r(strict);
  T value = read(r, doc);
  if (!r.problems.empty()) return std::move(r.problems);
  return value;
}

template <class T>
Parsed<T> parse_text(std::string_view text, Parsed<T> (*read)(const json&)) {
  auto doc = parse_json(text);
  if (!doc) return doc.error();
  return read(*doc);
}
void put_optional(json& j, const char* key, const auto& value) {
  if (value) j[key] = *value;
}

json subnets_json(const std::vector<Subnet>& subnets) {
  json out = json::array();
  for (const auto& s : subnets) {
    json j{{"cidr", s.cidr}};
    put_optional(j, "gateway", s.gateway);
    out.push_back(std::move(j));
  }
  return out;
}

json spec_json(const Spec& spec) { return {{"vcpus", spec.vcpus}, {"memoryMiB", spec.memory_mib}}; }

json disks_json(const std::vector<Disk>& disks) {
  json out = json::array();
  for (const auto& d : disks) {
    json j{{"target", d.target}, {"pool", d.pool}};
    if (!d.rbd_namespace.empty()) j["namespace"] = d.rbd_namespace;
    j["image"] = d.image;
    put_optional(j, "sizeGiB", d.size_gib);
    put_optional(j, "bus", d.bus);
    out.push_back(std::move(j));
  }
  return out;
}

json image_ref_json(const ImageRef& ref) {
  json j{{"pool", ref.pool}};
  if (!ref.rbd_namespace.empty()) j["namespace"] = ref.rbd_namespace;
  j["image"] = ref.image;
  return j;
}

json header_json(const char* kind) { return {{"apiVersion", kApiVersion}, {"kind", kind}}; }

template <class T, class F>
json list_json(const std::vector<T>& items, F item_json) {
  json out = json::array();
  for (const auto& item : items) out.push_back(item_json(item));
  return out;
}

// Source and backup objects are written by one function each, as they are read: they differ only
// in `source` and in whether a NIC's network is optional. Keys are sorted on output, so the order
// of insertion here does not show.
template <class Network>
json network_json(const Network& n) {
  json j{{"id", n.id},
         {"name", n.name},
         {"switch", n.switch_name},
         {"subnets", subnets_json(n.subnets)}};
  if constexpr (std::is_same_v<Network, BackupNetwork>) j["source"] = n.source;
  put_optional(j, "portgroup", n.portgroup);
  put_optional(j, "vlan", n.vlan);
  return j;
}

template <class Nic>
json nic_json(const Nic& nic) {
  json j{{"mac", nic.mac}};
  if constexpr (std::is_same_v<Nic, BackupNic>) {
    j["network"] = nic.network;
  } else {
    put_optional(j, "network", nic.network);
  }
  put_optional(j, "ip", nic.ip);
  put_optional(j, "model", nic.model);
  return j;
}

template <class Vm>
json vm_json(const Vm& vm) {
  json j{{"id", vm.id},
         {"name", vm.name},
         {"spec", spec_json(vm.spec)},
         {"disks", disks_json(vm.disks)},
         {"nics", list_json(vm.nics, nic_json<typename decltype(vm.nics)::value_type>)}};
  if constexpr (std::is_same_v<Vm, BackupVm>) j["source"] = vm.source;
  put_optional(j, "bootOrder", vm.boot_order);
  return j;
}

}  // namespace

const char* to_string(ReplicationMode mode) noexcept {
  return mode == ReplicationMode::journal ? "journal" : "snapshot";
}

const char* to_string(IpPolicy policy) noexcept {
  return policy == IpPolicy::translate ? "translate" : "keep";
}

Parsed<FirstDescription> read_first_description(const json& doc) {
  return finish<FirstDescription>(doc, false, read_first);
}
Parsed<SecondDescription> read_second_description(const json& doc) {
  return finish<SecondDescription>(doc, false, read_second);
}
Parsed<MappingPolicy> read_mapping_policy(const json& doc) {
  return finish<MappingPolicy>(doc, true, read_policy);
}
Parsed<Inventory> read_inventory(const json& doc) {
  return finish<Inventory>(doc, false, read_inv);
}

Parsed<FirstDescription> parse_first_description(std::string_view text) {
  return parse_text<FirstDescription>(text, read_first_description);
}
Parsed<SecondDescription> parse_second_description(std::string_view text) {
  return parse_text<SecondDescription>(text, read_second_description);
}
Parsed<MappingPolicy> parse_mapping_policy(std::string_view text) {
  return parse_text<MappingPolicy>(text, read_mapping_policy);
}
Parsed<Inventory> parse_inventory(std::string_view text) {
  return parse_text<Inventory>(text, read_inventory);
}

json to_json(const FirstDescription& doc) {
  json out = header_json("FirstDescription");
  json app{{"id", doc.app.id},
           {"name", doc.app.name},
           {"site", doc.app.site},
           {"generation", doc.app.generation}};
  put_optional(app, "capturedAt", doc.app.captured_at);
  out["app"] = std::move(app);
  out["networks"] = list_json(doc.networks, network_json<SourceNetwork>);
  out["vms"] = list_json(doc.vms, vm_json<SourceVm>);
  return out;
}

json to_json(const SecondDescription& doc) {
  json out = header_json("SecondDescription");
  out["app"] = {{"id", doc.app.id},
                {"name", doc.app.name},
                {"sourceSite", doc.app.source_site},
                {"site", doc.app.site},
                {"sourceGeneration", doc.app.source_generation}};
  out["networks"] = list_json(doc.networks, network_json<BackupNetwork>);
  out["vms"] = list_json(doc.vms, vm_json<BackupVm>);
  out["replication"] = json::array();
  for (const auto& pair : doc.replication) {
    out["replication"].push_back(
        {{"source", image_ref_json(pair.source)},
         {"target", image_ref_json(pair.target)},
         {"mode", to_string(pair.mode)},
         {"intervalMinutes", pair.interval_minutes}});
  }
  return out;
}

json to_json(const MappingPolicy& doc) {
  json out = header_json("MappingPolicy");
  put_optional(out, "site", doc.site);
  put_optional(out, "defaultSwitch", doc.default_switch);
  out["networks"] = json::array();
  for (const auto& rule : doc.networks) {
    json j{{"source", rule.source}};
    put_optional(j, "switch", rule.switch_name);
    put_optional(j, "vlan", rule.vlan);
    put_optional(j, "portgroup", rule.portgroup);
    if (!rule.subnets.empty()) {
      j["subnets"] = json::array();
      for (const auto& s : rule.subnets) {
        json sj{{"source", s.source}, {"cidr", s.cidr}};
        put_optional(sj, "gateway", s.gateway);
        j["subnets"].push_back(std::move(sj));
      }
    }
    out["networks"].push_back(std::move(j));
  }
  out["pools"] = json::array();
  for (const auto& rule : doc.pools) {
    out["pools"].push_back({{"source", rule.source}, {"target", rule.target}});
  }
  out["ip"] = to_string(doc.ip);
  out["spec"] = {{"memoryPercent", doc.spec.memory_percent},
                 {"vcpusPercent", doc.spec.vcpus_percent}};
  out["replication"] = {{"mode", to_string(doc.replication.mode)},
                        {"intervalMinutes", doc.replication.interval_minutes}};
  return out;
}

json to_json(const Inventory& doc) {
  json out = header_json("Inventory");
  out["site"] = doc.site;
  out["switches"] = json::array();
  for (const auto& s : doc.switches) {
    json j{{"name", s.name}, {"subnets", subnets_json(s.subnets)}, {"portgroups", json::array()}};
    put_optional(j, "vlan", s.vlan);
    for (const auto& pg : s.portgroups) {
      json g{{"name", pg.name}, {"subnets", subnets_json(pg.subnets)}};
      put_optional(g, "vlan", pg.vlan);
      j["portgroups"].push_back(std::move(g));
    }
    out["switches"].push_back(std::move(j));
  }
  out["domains"] = json::array();
  for (const auto& d : doc.domains) {
    json j{{"name", d.name}, {"id", d.id}};
    put_optional(j, "app", d.app);
    out["domains"].push_back(std::move(j));
  }
  out["pools"] = json::array();
  for (const auto& p : doc.pools) {
    json j{{"name", p.name}};
    put_optional(j, "freeGiB", p.free_gib);
    out["pools"].push_back(std::move(j));
  }
  out["hosts"] = json::array();
  for (const auto& h : doc.hosts) {
    out["hosts"].push_back({{"name", h.name},
                            {"cpus", h.cpus},
                            {"memoryMiB", h.memory_mib},
                            {"freeMemoryMiB", h.free_memory_mib},
                            {"allocatedVcpus", h.allocated_vcpus}});
  }
  out["cpuAllocationRatio"] = doc.cpu_allocation_ratio;
  return out;
}

std::string to_text(const json& doc) {
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string document_kind(const json& doc) {
  if (!doc.is_object()) return {};
  const auto api = doc.find("apiVersion");
  const auto kind = doc.find("kind");
  if (api == doc.end() || kind == doc.end() || !kind->is_string() || *api != kApiVersion) return {};
  return kind->get<std::string>();
}

}  // namespace dr::model
