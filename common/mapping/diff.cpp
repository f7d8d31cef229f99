// diff(): what changed between two descriptions of one application (drift between captures, or
// between the second description a site holds and a new one).
// Objects are matched by their ids: networks and VMs by id, disks by target, NICs by MAC,
// replication pairs by source image. The capture bookkeeping (generation, sourceGeneration,
// capturedAt) is not a change of the application and is not reported.

#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "mapping/mapping.hpp"
#include "model/json_io.hpp"

namespace dr::mapping {
namespace {

using model::Subnet;

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string show(const std::string& text) { return quoted(text); }
std::string show(std::int64_t value) { return std::to_string(value); }
std::string show(model::ReplicationMode mode) { return model::to_string(mode); }
std::string show(const model::ImageRef& ref) { return quoted(model::image_text(ref)); }
std::string show(const std::vector<Subnet>& subnets) {
  std::string out;
  for (const auto& s : subnets) {
    out += (out.empty() ? "" : ", ") + s.cidr + (s.gateway ? " via " + *s.gateway : "");
  }
  return "[" + out + "]";
}
template <class T>
std::string show(const std::optional<T>& value) {
  return value ? show(*value) : "(none)";
}

class Differ {
 public:
  std::vector<Change> take() && { return std::move(changes_); }

  void added(std::string pointer, std::string what) {
    changes_.push_back({Change::Kind::added, std::move(pointer), std::move(what), {}});
  }
  void removed(std::string pointer, std::string what) {
    changes_.push_back({Change::Kind::removed, std::move(pointer), std::move(what), {}});
  }

  // Collects "<label> <old> -> <new>" when a field differs.
  template <class T>
  static void field(std::vector<std::string>& details, std::string_view label, const T& before,
                    const T& after) {
    if (before == after) return;
    details.push_back(std::string(label) + " " + show(before) + " -> " + show(after));
  }

  // One changed change for an object whose fields differ, at the object's pointer.
  void changed(const std::string& pointer, std::string what,
               const std::vector<std::string>& details) {
    if (details.empty()) return;
    std::string detail;
    for (const auto& d : details) detail += (detail.empty() ? "" : ", ") + d;
    changes_.push_back({Change::Kind::changed, pointer, std::move(what), std::move(detail)});
  }

  // Pairs up two arrays by `key` (the first item with a key, if keys repeat): `same(new pointer,
  // old pointer, old item, new item)` for each pair, then an added change for each new item and
  // a removed change for each old one. The arrays are at `old_base` and `new_base`.
  template <class T, class Key, class Same, class What>
  void arrays(const std::string& old_base, const std::string& new_base,
              const std::vector<T>& before, const std::vector<T>& after, Key key, What what,
              Same same) {
    std::unordered_map<std::string, std::size_t> old_index;
    old_index.reserve(before.size());
    for (std::size_t i = 0; i < before.size(); ++i) old_index.emplace(key(before[i]), i);
    std::vector<bool> matched(before.size(), false);
    for (std::size_t i = 0; i < after.size(); ++i) {
      const std::string pointer = new_base + "/" + std::to_string(i);
      const auto it = old_index.find(key(after[i]));
      if (it != old_index.end() && !matched[it->second]) {
        matched[it->second] = true;
        same(pointer, old_base + "/" + std::to_string(it->second), before[it->second], after[i]);
      } else {
        added(pointer, what(after[i]));
      }
    }
    for (std::size_t i = 0; i < before.size(); ++i) {
      if (!matched[i]) removed(old_base + "/" + std::to_string(i), what(before[i]));
    }
  }

  template <class Network>
  void networks(const std::vector<Network>& before, const std::vector<Network>& after) {
    arrays(
        "/networks", "/networks", before, after, [](const Network& n) { return n.id; },
        [](const Network& n) { return "network " + quoted(n.id); },
        [&](const std::string& p, const std::string&, const Network& b, const Network& a) {
          std::vector<std::string> f;
          if constexpr (std::is_same_v<Network, model::BackupNetwork>) {
            field(f, "source", b.source, a.source);
          }
          field(f, "name", b.name, a.name);
          field(f, "switch", b.switch_name, a.switch_name);
          field(f, "portgroup", b.portgroup, a.portgroup);
          field(f, "vlan", widen(b.vlan), widen(a.vlan));
          field(f, "subnets", b.subnets, a.subnets);
          changed(p, "network " + quoted(a.id), f);
        });
  }

  template <class Vm>
  void vms(const std::vector<Vm>& before, const std::vector<Vm>& after) {
    arrays(
        "/vms", "/vms", before, after, [](const Vm& v) { return v.id; },
        [](const Vm& v) { return "vm " + quoted(v.name); },
        [&](const std::string& p, const std::string& old_p, const Vm& b, const Vm& a) {
          std::vector<std::string> f;
          if constexpr (std::is_same_v<Vm, model::BackupVm>) {
            field(f, "source", b.source, a.source);
          }
          field(f, "name", b.name, a.name);
          field(f, "spec.vcpus", std::int64_t{b.spec.vcpus}, std::int64_t{a.spec.vcpus});
          field(f, "spec.memoryMiB", b.spec.memory_mib, a.spec.memory_mib);
          field(f, "bootOrder", widen(b.boot_order), widen(a.boot_order));
          changed(p, "vm " + quoted(a.name), f);
          disks(old_p, p, a.name, b.disks, a.disks);
          nics(old_p, p, a.name, b.nics, a.nics);
        });
  }

 private:
  std::vector<Change> changes_;

  static std::optional<std::int64_t> widen(const std::optional<int>& value) {
    return value ? std::optional<std::int64_t>(*value) : std::nullopt;
  }

  // The disks and NICs of one VM, at `old_vm` in the old document and `new_vm` in the new.
  void disks(const std::string& old_vm, const std::string& new_vm, const std::string& vm_name,
             const std::vector<model::Disk>& before, const std::vector<model::Disk>& after) {
    const auto what = [&](const model::Disk& d) {
      return "disk " + quoted(d.target) + " of vm " + quoted(vm_name);
    };
    arrays(
        old_vm + "/disks", new_vm + "/disks", before, after,
        [](const model::Disk& d) { return d.target; }, what,
        [&](const std::string& p, const std::string&, const model::Disk& b, const model::Disk& a) {
          std::vector<std::string> f;
          field(f, "pool", b.pool, a.pool);
          field(f, "namespace", b.rbd_namespace, a.rbd_namespace);
          field(f, "image", b.image, a.image);
          field(f, "sizeGiB", b.size_gib, a.size_gib);
          field(f, "bus", b.bus, a.bus);
          changed(p, what(a), f);
        });
  }

  template <class Nic>
  void nics(const std::string& old_vm, const std::string& new_vm, const std::string& vm_name,
            const std::vector<Nic>& before, const std::vector<Nic>& after) {
    const auto what = [&](const Nic& n) { return "nic " + n.mac + " of vm " + quoted(vm_name); };
    arrays(
        old_vm + "/nics", new_vm + "/nics", before, after, [](const Nic& n) { return n.mac; }, what,
        [&](const std::string& p, const std::string&, const Nic& b, const Nic& a) {
          std::vector<std::string> f;
          field(f, "network", b.network, a.network);
          field(f, "ip", b.ip, a.ip);
          field(f, "model", b.model, a.model);
          changed(p, what(a), f);
        });
  }
};

}  // namespace

std::vector<Change> diff(const model::FirstDescription& before,
                         const model::FirstDescription& after) {
  Differ d;
  std::vector<std::string> f;
  Differ::field(f, "id", before.app.id, after.app.id);
  Differ::field(f, "name", before.app.name, after.app.name);
  Differ::field(f, "site", before.app.site, after.app.site);
  d.changed("/app", "app " + quoted(after.app.id), f);
  d.networks(before.networks, after.networks);
  d.vms(before.vms, after.vms);
  return std::move(d).take();
}

std::vector<Change> diff(const model::SecondDescription& before,
                         const model::SecondDescription& after) {
  Differ d;
  std::vector<std::string> f;
  Differ::field(f, "id", before.app.id, after.app.id);
  Differ::field(f, "name", before.app.name, after.app.name);
  Differ::field(f, "sourceSite", before.app.source_site, after.app.source_site);
  Differ::field(f, "site", before.app.site, after.app.site);
  d.changed("/app", "app " + quoted(after.app.id), f);
  d.networks(before.networks, after.networks);
  d.vms(before.vms, after.vms);
  const auto image = [](const model::ReplicationPair& r) { return model::image_text(r.source); };
  d.arrays(
      "/replication", "/replication", before.replication, after.replication, image,
      [&](const model::ReplicationPair& r) { return "replication of " + quoted(image(r)); },
      [&](const std::string& p, const std::string&, const model::ReplicationPair& b,
          const model::ReplicationPair& a) {
        std::vector<std::string> pf;
        Differ::field(pf, "target", b.target, a.target);
        Differ::field(pf, "mode", b.mode, a.mode);
        Differ::field(pf, "intervalMinutes", std::int64_t{b.interval_minutes},
                      std::int64_t{a.interval_minutes});
        d.changed(p, "replication of " + quoted(image(a)), pf);
      });
  return std::move(d).take();
}

const char* to_string(Change::Kind kind) noexcept {
  switch (kind) {
    case Change::Kind::added:
      return "added";
    case Change::Kind::removed:
      return "removed";
    case Change::Kind::changed:
      return "changed";
  }
  return "changed";
}

}  // namespace dr::mapping
