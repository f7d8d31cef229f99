#include "workflow/restore.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "model/json_io.hpp"

namespace dr::workflow {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using virt::DeclaredNetwork;
using virt::DiskDef;
using virt::DomainDef;
using virt::DomainState;
using virt::Hypervisor;
using virt::HypervisorFactory;
using virt::Membership;
using virt::NetworkDef;
using virt::NicDef;
using virt::NicKind;
using virt::PortgroupDef;
using virt::SiteConfig;
using virt::SwitchKind;

std::int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::string where(const std::string& sw, const std::optional<std::string>& pg) {
  return "network '" + sw + "'" + (pg ? " portgroup '" + *pg + "'" : std::string());
}

std::string vlan_text(const std::optional<int>& vlan) {
  return vlan ? std::to_string(*vlan) : std::string("none");
}

bool is_uuid(const std::string& text) {
  static const std::regex re(
      "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
  return std::regex_match(text, re);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const PortgroupDef* find_portgroup(const NetworkDef& net, const std::string& name) {
  for (const auto& pg : net.portgroups) {
    if (pg.name == name) return &pg;
  }
  return nullptr;
}

json binding_json(const NetworkBinding& b) {
  json j{{"switch", b.switch_name}, {"created", b.created}};
  if (b.portgroup) j["portgroup"] = *b.portgroup;
  if (b.vlan) j["vlan"] = *b.vlan;
  return j;
}

NetworkBinding binding_from(const json& j) {
  NetworkBinding b;
  b.switch_name = j.value("switch", "");
  if (j.contains("portgroup")) b.portgroup = j["portgroup"].get<std::string>();
  if (j.contains("vlan")) b.vlan = j["vlan"].get<int>();
  b.created = j.value("created", "");
  return b;
}

class Run {
 public:
  Run(const model::SecondDescription& second, const SiteConfig& config, Hypervisor& hv,
      HypervisorFactory& workers, RestoreKind kind, Steps& steps)
      : second_(second), config_(config), hv_(hv), workers_(workers), kind_(kind), steps_(steps) {
    report_.app = second.app.id;
  }

  RestoreReport run() {
    // A failed step is in the report's failure; the report is read back either way.
    (void)steps();
    report_.steps = steps_.timings();
    if (!report_.failure) report_.failure = steps_.first_failure();
    read_back();
    return std::move(report_);
  }

 private:
  Result<json> step(const std::string& name, const std::function<Result<json>()>& body) {
    return steps_.run(name, body);
  }

  // A failure outside any step (the journal belongs to another restore, libvirt unreadable).
  Error failed(const std::string& name, Error error) {
    if (!report_.failure) report_.failure = StepFailure{name, error};
    return error;
  }

  Status steps() {
    auto begun = step("begin", [&]() -> Result<json> {
      return ok({{"app", second_.app.id},
                 {"sourceGeneration", second_.app.source_generation},
                 {"site", second_.app.site}});
    });
    if (!begun) return begun.error();
    if (begun->value("app", "") != second_.app.id ||
        begun->value("sourceGeneration", std::int64_t{-1}) != second_.app.source_generation) {
      return failed("begin", fail(Errc::failed_precondition,
                                  "the restore journal belongs to app '" +
                                      begun->value("app", "") + "' generation " +
                                      std::to_string(begun->value("sourceGeneration", -1)) +
                                      ", not app '" + second_.app.id + "' generation " +
                                      std::to_string(second_.app.source_generation)));
    }
    for (const auto& net : second_.networks) {
      auto inspected = step("inspect-network:" + net.id, [&] { return inspect(net); });
      if (!inspected) return inspected.error();
      auto ensured =
          step("ensure-network:" + net.id, [&] { return ensure(net, *inspected); });
      if (!ensured) return ensured.error();
      bindings_[net.id] = binding_from(*ensured);
    }
    if (auto seen = snapshot(); !seen) return failed("define-domains", seen.error());
    for (const auto& vm : second_.vms) {
      auto defined = step("define-domain:" + vm.name, [&] { return define(vm); });
      if (!defined) return defined.error();
    }
    std::map<int, std::vector<const model::BackupVm*>> groups;
    std::vector<const model::BackupVm*> unordered;
    for (const auto& vm : second_.vms) {
      if (vm.boot_order) groups[*vm.boot_order].push_back(&vm);
      else unordered.push_back(&vm);
    }
    for (const auto& [order, vms] : groups) {
      auto started = step("start-group:" + std::to_string(order), [&] { return start(vms); });
      if (!started) return started.error();
    }
    if (!unordered.empty()) {
      auto started = step("start-group:unordered", [&] { return start(unordered); });
      if (!started) return started.error();
    }
    return {};
  }

  // ---- networks

  Result<json> inspect(const model::BackupNetwork& net) {
    json found{{"switch", net.switch_name}};
    if (net.portgroup) found["portgroup"] = *net.portgroup;
    auto existing = hv_.get_network(net.switch_name);
    if (!existing) {
      if (existing.error().code != Errc::not_found) return existing.error();
      if (!config_.create_networks || !template_for(config_, net.switch_name)) {
        return fail(Errc::failed_precondition,
                    "backup network '" + net.id + "': switch '" + net.switch_name +
                        "' does not exist at this site and the site config does not allow "
                        "creating it (networks.create and a template)");
      }
      found["networkExisted"] = false;
      found["portgroupExisted"] = false;
      return ok(found);
    }
    found["networkExisted"] = true;
    if (!net.portgroup) {
      if (net.vlan && existing->vlan != net.vlan) {
        return fail(Errc::already_exists,
                    "backup network '" + net.id + "': " + where(net.switch_name, std::nullopt) +
                        " has VLAN " + vlan_text(existing->vlan) + ", the restore needs " +
                        vlan_text(net.vlan));
      }
      found["portgroupExisted"] = true;
      return ok(found);
    }
    const PortgroupDef* pg = find_portgroup(*existing, *net.portgroup);
    if (pg != nullptr && pg->vlan != net.vlan) {
      return fail(Errc::already_exists,
                  "backup network '" + net.id + "': " + where(net.switch_name, net.portgroup) +
                      " exists with VLAN " + vlan_text(pg->vlan) + ", the restore needs " +
                      vlan_text(net.vlan) + "; not changed");
    }
    found["portgroupExisted"] = pg != nullptr;
    return ok(found);
  }

  Result<json> ensure(const model::BackupNetwork& net, const json& inspected) {
    NetworkBinding b{net.switch_name, net.portgroup, net.vlan, ""};
    if (!inspected.value("networkExisted", true)) b.created = "network";
    else if (!inspected.value("portgroupExisted", true)) b.created = "portgroup";
    const std::string what = "backup network '" + net.id + "'";
    auto existing = hv_.get_network(net.switch_name);
    if (!existing && existing.error().code != Errc::not_found) return existing.error();
    if (!existing) {
      const auto tmpl = template_for(config_, net.switch_name);
      if (!tmpl) return fail(Errc::failed_precondition, what + ": no network template");
      NetworkDef def;
      def.name = net.switch_name;
      std::string bridge = tmpl->bridge;
      if (const auto at = bridge.find("{switch}"); at != std::string::npos) {
        bridge.replace(at, 8, net.switch_name);
      }
      def.bridge = bridge;
      if (tmpl->kind == SwitchKind::openvswitch) {
        def.forward_mode = "bridge";
        def.virtualport = "openvswitch";
      }
      if (net.portgroup) def.portgroups.push_back({*net.portgroup, net.vlan, false, {}});
      else def.vlan = net.vlan;
      if (auto created = hv_.create_network(def); !created) {
        return fail(created.error().code, what + ": " + created.error().message);
      }
      return ok(binding_json(b));
    }
    if (!net.portgroup) return ok(binding_json(b));
    const PortgroupDef* pg = find_portgroup(*existing, *net.portgroup);
    if (pg == nullptr) {
      if (auto added = hv_.add_portgroup(net.switch_name, {*net.portgroup, net.vlan, false, {}});
          !added) {
        return fail(added.error().code, what + ": " + added.error().message);
      }
    } else if (pg->vlan != net.vlan) {
      return fail(Errc::already_exists, what + ": " + where(net.switch_name, net.portgroup) +
                                            " has VLAN " + vlan_text(pg->vlan) +
                                            " (changed meanwhile), the restore needs " +
                                            vlan_text(net.vlan));
    }
    return ok(binding_json(b));
  }

  // ---- domains

  // Every switch and domain as libvirt has them now: checked before each definition.
  Status snapshot() {
    for (const auto& [id, b] : bindings_) {
      if (switches_.count(b.switch_name) != 0) continue;
      auto net = hv_.get_network(b.switch_name);
      if (!net) return net.error();
      switches_.emplace(b.switch_name, std::move(*net));
    }
    auto domains = hv_.list_domains();
    if (!domains) return domains.error();
    for (const auto& d : *domains) uuids_[lower(d.uuid)] = d.name;
    return {};
  }

  Result<json> define(const model::BackupVm& vm) {
    const std::string what = "domain '" + vm.name + "'";
    if (!is_uuid(vm.id)) {
      return fail(Errc::invalid_argument, what + ": backup VM id '" + vm.id + "' is not a UUID");
    }
    if (const auto it = uuids_.find(lower(vm.id)); it != uuids_.end() && it->second != vm.name) {
      return fail(Errc::already_exists, what + ": UUID " + vm.id + " is taken by domain '" +
                                            it->second + "'; not overwritten");
    }
    auto status = hv_.domain_status(vm.name);
    if (!status && status.error().code != Errc::not_found) return status.error();
    std::optional<Membership> earlier;
    std::optional<DomainDef> existing_def;
    if (status) {
      if (lower(status->uuid) != lower(vm.id)) {
        return fail(Errc::already_exists, what + " exists with UUID " + status->uuid +
                                              ", not " + vm.id + "; not overwritten");
      }
      auto existing = hv_.get_domain(vm.name);
      if (!existing) return existing.error();
      if (!existing->membership || existing->membership->app_id != second_.app.id) {
        return fail(Errc::already_exists,
                    what + " exists and belongs to " +
                        (existing->membership ? "app '" + existing->membership->app_id + "'"
                                              : std::string("no drpair app")) +
                        "; not overwritten");
      }
      // The app's own original (production) domain is not a restore's to redefine.
      if (!existing->membership->source_site) {
        return fail(Errc::already_exists, what + " of app '" + second_.app.id +
                                              "' exists and was not made by a restore; "
                                              "not overwritten");
      }
      // Nor is a failover's VM a drill's, or the other way round.
      if (existing->membership->drill != (kind_ == RestoreKind::drill)) {
        return fail(Errc::already_exists,
                    what + " of app '" + second_.app.id + "' exists and was made by " +
                        (existing->membership->drill ? "a drill" : "a failover") +
                        "; not overwritten");
      }
      earlier = existing->membership;
      existing_def = std::move(*existing);
      for (auto& nic : existing_def->nics) {  // what only a running domain shows
        nic.target_dev.reset();
        nic.live_vlan.reset();
      }
    }
    for (const auto& nic : vm.nics) {
      const auto b = bindings_.find(nic.network);
      if (b == bindings_.end()) {
        return fail(Errc::invalid_argument, what + ": NIC " + nic.mac + " names network '" +
                                                nic.network +
                                                "', which is not a backup network of the app");
      }
      const NetworkBinding& binding = b->second;
      // libvirt checks neither (the test driver) or only the network (QEMU: an unknown portgroup
      // is silently ignored and the NIC lands untagged), so this check is the only one.
      const auto sw = switches_.find(binding.switch_name);
      if (sw == switches_.end()) {
        return fail(Errc::not_found, what + ": NIC " + nic.mac + ": " +
                                         where(binding.switch_name, std::nullopt) +
                                         " does not exist");
      }
      if (binding.portgroup && find_portgroup(sw->second, *binding.portgroup) == nullptr) {
        return fail(Errc::not_found, what + ": NIC " + nic.mac + ": " +
                                         where(binding.switch_name, binding.portgroup) +
                                         " does not exist");
      }
    }
    DomainDef def = backup_domain(second_, vm, config_, bindings_, kind_);
    // A restore redone with a new journal finds what the first one created as existing: the
    // domain's earlier record of what was created must survive, or teardown would leave it.
    for (auto& d : def.membership->networks) {
      if (!d.created.empty() || !earlier) continue;
      for (const auto& e : earlier->networks) {
        if (e.switch_name == d.switch_name && e.portgroup == d.portgroup) d.created = e.created;
      }
    }
    // Defined as wanted already (an earlier run of this step was cut off after libvirt took the
    // definition): nothing to do.
    if (existing_def && *existing_def == def) {
      uuids_[lower(vm.id)] = vm.name;
      return ok(json{{"uuid", existing_def->uuid}, {"already", "defined"}});
    }
    auto defined = hv_.define_domain(def);
    if (!defined) return defined.error();
    uuids_[lower(vm.id)] = vm.name;
    return ok(json{{"uuid", defined->uuid}});
  }

  // ---- starts

  // Runs f(connection, i) for i in [0, n) on up to `parallelism` workers, each with a connection
  // of its own from the factory.
  void parallel(std::size_t n, const std::function<void(Result<std::shared_ptr<Hypervisor>>&,
                                                        std::size_t)>& f) {
    const std::size_t workers =
        std::min<std::size_t>(n, static_cast<std::size_t>(config_.parallelism));
    std::atomic<std::size_t> next{0};
    auto work = [&] {
      auto conn = workers_();
      for (std::size_t i = next++; i < n; i = next++) f(conn, i);
    };
    if (workers <= 1) {
      work();
      return;
    }
    std::vector<std::jthread> threads;
    for (std::size_t w = 0; w < workers; ++w) threads.emplace_back(work);
  }

  Result<json> start(const std::vector<const model::BackupVm*>& vms) {
    std::mutex mutex;
    std::optional<Error> first_error;
    json done = json::array();
    parallel(vms.size(), [&](Result<std::shared_ptr<Hypervisor>>& conn, std::size_t i) {
      const auto start = Clock::now();
      Status s = conn ? start_and_wait(**conn, vms[i]->name, std::chrono::seconds(config_.start_timeout_seconds)) : Status(conn.error());
      std::lock_guard lock(mutex);
      if (!s) {
        if (!first_error) first_error = s.error();
      } else {
        done.push_back({{"name", vms[i]->name}, {"ms", ms_since(start)}});
      }
    });
    if (first_error) return *first_error;
    return ok(json{{"vms", done}});
  }

  // ---- report

  void read_back() {
    // One read per switch: an app's backup networks are mostly portgroups of a few switches.
    std::map<std::string, Result<NetworkDef>> switches;
    for (const auto& net : second_.networks) {
      ReportNetwork r{net.id, net.switch_name, net.portgroup, std::nullopt};
      if (const auto b = bindings_.find(net.id); b != bindings_.end()) {
        r.switch_name = b->second.switch_name;
        r.portgroup = b->second.portgroup;
      }
      auto known = switches.find(r.switch_name);
      if (known == switches.end()) {
        known = switches.emplace(r.switch_name, hv_.get_network(r.switch_name)).first;
      }
      if (const auto& live = known->second) {
        r.vlan = live->vlan;
        if (r.portgroup) {
          const PortgroupDef* pg = find_portgroup(*live, *r.portgroup);
          r.vlan = pg != nullptr ? pg->vlan : std::nullopt;
        }
      }
      report_.networks.push_back(std::move(r));
    }
    // One VM per worker connection, as the starts: reading back 200 live definitions costs about
    // as much as defining them.
    report_.vms.resize(second_.vms.size());
    parallel(second_.vms.size(), [&](Result<std::shared_ptr<Hypervisor>>& conn, std::size_t i) {
      const auto& vm = second_.vms[i];
      ReportVm r{vm.name, "missing", {}};
      Hypervisor& hv = conn ? **conn : hv_;
      if (auto status = hv.domain_status(vm.name)) {
        r.state = to_string(status->state);
        if (auto def = hv.get_domain(vm.name, status->state == DomainState::running)) {
          for (const auto& nic : def->nics) {
            r.nics.push_back({nic.mac, nic.kind == NicKind::network ? nic.network : nic.bridge,
                              nic.portgroup});
          }
        }
      }
      report_.vms[i] = std::move(r);
    });
  }

  const model::SecondDescription& second_;
  const SiteConfig& config_;
  Hypervisor& hv_;
  HypervisorFactory& workers_;
  RestoreKind kind_;
  Steps& steps_;
  RestoreReport report_;
  std::map<std::string, NetworkBinding> bindings_;
  std::map<std::string, NetworkDef> switches_;
  std::map<std::string, std::string> uuids_;  // lower-case UUID -> domain name
};

// The domain declares the networks its NICs use, and the networks no NIC of the app uses (so the
// app's declared networks, the union over its domains, are all of them): teardown finds what was
// created there, and a 20-network app does not put 20 declarations on every domain.
bool declares(const model::SecondDescription& second, const model::BackupVm& vm,
              const model::BackupNetwork& net) {
  const auto uses = [&](const model::BackupVm& v) {
    return std::any_of(v.nics.begin(), v.nics.end(),
                       [&](const model::BackupNic& n) { return n.network == net.id; });
  };
  return uses(vm) || std::none_of(second.vms.begin(), second.vms.end(), uses);
}

}  // namespace

DomainDef backup_domain(const model::SecondDescription& second, const model::BackupVm& vm,
                        const SiteConfig& config,
                        const std::map<std::string, NetworkBinding>& bindings,
                        RestoreKind kind) {
  DomainDef def;
  def.name = vm.name;
  def.uuid = vm.id;
  def.type = config.domain_type;
  def.vcpus = vm.spec.vcpus;
  def.memory_mib = vm.spec.memory_mib;
  for (const auto& d : vm.disks) {
    def.disks.push_back(rbd_disk(config.ceph, {d.pool, d.image, d.rbd_namespace}, d.target,
                                 d.bus.value_or("virtio")));
  }
  if (config.console_log_dir) def.serial_log = *config.console_log_dir + "/" + vm.name + ".log";
  Membership m;
  m.app_id = second.app.id;
  m.app_name = second.app.name;
  m.generation = second.app.source_generation;
  m.boot_order = vm.boot_order;
  m.source_site = second.app.source_site;
  m.source_vm = vm.source;
  m.drill = kind == RestoreKind::drill;
  for (const auto& nic : vm.nics) {
    const NetworkBinding& binding = bindings.at(nic.network);
    NicDef n;
    n.mac = nic.mac;
    n.kind = NicKind::network;
    n.network = binding.switch_name;
    n.portgroup = binding.portgroup;
    n.model = nic.model.value_or("virtio");
    def.nics.push_back(std::move(n));
    if (nic.ip) m.nics.push_back({nic.mac, *nic.ip});
  }
  for (const auto& net : second.networks) {
    if (!declares(second, vm, net)) continue;
    const NetworkBinding& b = bindings.at(net.id);
    DeclaredNetwork d;
    d.id = net.id;
    d.name = net.name;
    d.switch_name = b.switch_name;
    d.portgroup = b.portgroup;
    d.vlan = b.vlan;
    d.created = b.created;
    for (const auto& sub : net.subnets) d.subnets.push_back({sub.cidr, sub.gateway});
    m.networks.push_back(std::move(d));
  }
  def.membership = std::move(m);
  return def;
}

bool RestoreReport::ok() const {
  if (failure) return false;
  return std::all_of(vms.begin(), vms.end(), [](const ReportVm& v) { return v.state == "running"; });
}

json to_json(const RestoreReport& report) {
  json out{{"app", report.app}, {"vms", json::array()}, {"networks", json::array()},
           {"steps", json::array()}};
  for (const auto& vm : report.vms) {
    json nics = json::array();
    for (const auto& n : vm.nics) {
      json nic{{"mac", n.mac}, {"switch", n.switch_name}};
      nic["portgroup"] = n.portgroup ? json(*n.portgroup) : json(nullptr);
      nics.push_back(std::move(nic));
    }
    out["vms"].push_back({{"name", vm.name}, {"state", vm.state}, {"nics", std::move(nics)}});
  }
  for (const auto& n : report.networks) {
    json net{{"id", n.id}, {"switch", n.switch_name}};
    net["portgroup"] = n.portgroup ? json(*n.portgroup) : json(nullptr);
    net["vlan"] = n.vlan ? json(*n.vlan) : json(nullptr);
    out["networks"].push_back(std::move(net));
  }
  for (const auto& s : report.steps) {
    json step{{"name", s.name}, {"ms", s.took.count()}};
    if (s.skipped) step["skipped"] = true;
    out["steps"].push_back(std::move(step));
  }
  if (report.failure) {
    out["failed"] = {{"step", report.failure->step},
                     {"code", to_string(report.failure->error.code)},
                     {"message", report.failure->error.message}};
  }
  return out;
}

Status start_and_wait(virt::Hypervisor& hv, const std::string& name,
                      std::chrono::seconds timeout) {
  auto status = hv.domain_status(name);
  if (!status) return status.error();
  if (status->state != virt::DomainState::running) {
    if (auto started = hv.start_domain(name); !started) {
      // Started by an earlier attempt or someone else meanwhile: fine if it now runs.
      if (started.error().code != Errc::failed_precondition) return started.error();
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto pause = std::chrono::milliseconds(5);;
       pause = std::min(pause * 2, std::chrono::milliseconds(200))) {
    auto now = hv.domain_status(name);
    if (!now) return now.error();
    if (now->state == virt::DomainState::running) return {};
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(pause);  // bounded polling for a state libvirt reports
  }
  return fail(Errc::deadline_exceeded, "domain '" + name + "' is not running after " +
                                           std::to_string(timeout.count()) + " s");
}

RestoreWorkflow::RestoreWorkflow(const model::SecondDescription& second, const SiteConfig& config,
                                 Hypervisor& hypervisor, HypervisorFactory workers,
                                 RestoreKind kind)
    : second_(second), config_(config), hv_(hypervisor), workers_(std::move(workers)),
      kind_(kind) {}

RestoreReport RestoreWorkflow::run(Steps& steps) {
  return Run(second_, config_, hv_, workers_, kind_, steps).run();
}

// ---- teardown

Result<TeardownReport> teardown(Hypervisor& hv, const std::string& app_id, Journal* journal,
                                std::string_view prefix, RestoreKind kind) {
  TeardownReport report;
  auto statuses = hv.list_domains();
  if (!statuses) return statuses.error();
  struct Created {
    std::string switch_name;
    std::optional<std::string> portgroup;
    std::string what;
  };
  std::vector<Created> created;
  auto note = [&](const std::string& sw, const std::optional<std::string>& pg,
                  const std::string& what) {
    if (what.empty()) return;
    for (const auto& c : created) {
      if (c.switch_name == sw && c.portgroup == pg) return;
    }
    created.push_back({sw, pg, what});
  };
  // The NICs of the domains that stay, to keep what they still use.
  std::vector<std::pair<std::string, std::optional<std::string>>> in_use;
  for (const auto& s : *statuses) {
    auto def = hv.get_domain(s.name);
    if (!def) {
      if (def.error().code == Errc::not_found) continue;
      return def.error();
    }
    const bool ours = def->membership && def->membership->app_id == app_id &&
                      def->membership->source_site.has_value() &&
                      def->membership->drill == (kind == RestoreKind::drill);
    if (!ours) {
      for (const auto& nic : def->nics) {
        if (nic.kind == NicKind::network) in_use.emplace_back(nic.network, nic.portgroup);
      }
      continue;
    }
    for (const auto& n : def->membership->networks) note(n.switch_name, n.portgroup, n.created);
    if (s.state != DomainState::shutoff) {
      if (auto r = hv.destroy_domain(s.name); !r && r.error().code != Errc::failed_precondition) {
        return r.error();
      }
    }
    if (auto r = hv.undefine_domain(s.name); !r && r.error().code != Errc::not_found) {
      return r.error();
    }
    report.domains.push_back(s.name);
  }
  if (journal != nullptr) {
    auto entries = journal->entries();
    if (!entries) return entries.error();
    for (const auto& e : *entries) {
      if (e.state != state::StepState::done || !e.name.starts_with(prefix)) continue;
      const std::string_view step = std::string_view(e.name).substr(prefix.size());
      if (step.starts_with("ensure-network:")) {
        const NetworkBinding b = binding_from(e.detail);
        note(b.switch_name, b.portgroup, b.created);
      } else if (step.starts_with("inspect-network:")) {
        // Cut off inside ensure-network: what it may have created is known from the inspection.
        const json& j = e.detail;
        std::optional<std::string> pg;
        if (j.contains("portgroup") && j["portgroup"].is_string()) {
          pg = j["portgroup"].get<std::string>();
        }
        const std::string what = !j.value("networkExisted", true)     ? "network"
                                 : !j.value("portgroupExisted", true) ? "portgroup"
                                                                      : "";
        note(j.value("switch", ""), pg, what);
      }
    }
  }
  auto used = [&](const std::string& sw, const std::optional<std::string>& pg) {
    return std::any_of(in_use.begin(), in_use.end(), [&](const auto& u) {
      return u.first == sw && (!pg || u.second == pg);
    });
  };
  std::set<std::string> networks_to_remove;
  for (const auto& c : created) {
    const std::string name = c.switch_name + (c.portgroup ? "/" + *c.portgroup : "");
    if (used(c.switch_name, c.portgroup)) {
      report.kept.push_back(name);
      continue;
    }
    if (c.what == "network") {
      networks_to_remove.insert(c.switch_name);
      continue;
    }
    if (!c.portgroup) continue;
    auto net = hv.get_network(c.switch_name);
    if (!net) {
      if (net.error().code == Errc::not_found) continue;
      return net.error();
    }
    if (find_portgroup(*net, *c.portgroup) == nullptr) continue;
    if (auto r = hv.remove_portgroup(c.switch_name, *c.portgroup); !r) return r.error();
    report.portgroups.push_back(name);
  }
  for (const auto& sw : networks_to_remove) {
    auto net = hv.get_network(sw);
    if (!net) {
      if (net.error().code == Errc::not_found) continue;
      return net.error();
    }
    // Someone else's portgroups or VMs on a network we created: remove only our portgroups.
    bool others = used(sw, std::nullopt);
    for (const auto& pg : net->portgroups) {
      const bool ours = std::any_of(created.begin(), created.end(), [&](const Created& c) {
        return c.switch_name == sw && c.portgroup == pg.name;
      });
      others = others || !ours;
    }
    if (others) {
      for (const auto& c : created) {
        if (c.switch_name != sw || !c.portgroup || find_portgroup(*net, *c.portgroup) == nullptr ||
            used(sw, c.portgroup)) {
          continue;
        }
        if (auto r = hv.remove_portgroup(sw, *c.portgroup); !r) return r.error();
        report.portgroups.push_back(sw + "/" + *c.portgroup);
      }
      report.kept.push_back(sw);
      continue;
    }
    if (auto r = hv.remove_network(sw); !r && r.error().code != Errc::not_found) return r.error();
    report.networks.push_back(sw);
  }
  return report;
}

}  // namespace dr::virt
