// Restore of APP1 on a real libvirtd (QEMU driver, TCG) whose switch is a libvirt network on an
// Open vSwitch bridge: real portgroups with real VLAN tags, VMs really running, teardown leaving
// nothing behind. The daemon comes from deploy/libvirtd.sh (ctest fixture "libvirtd").
#include "workflow/restore.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include <catch2/catch.hpp>

#include "fault_hypervisor.hpp"
#include "support/process.hpp"
#include "virt/libvirt_hypervisor.hpp"
#include "virt_test_support.hpp"

using namespace dr::virt;
using namespace dr::workflow;
using dr::virt::testing::FaultHypervisor;

namespace {

// The site's environment: the variable itself, else the env file `deploy/libvirtd.sh up` wrote
// into the state folder that ctest names in DRPAIR_LIBVIRTD_STATE.
std::string env(const std::string& name) {
  if (const char* v = std::getenv(name.c_str()); v != nullptr && *v != '\0') return v;
  const char* state = std::getenv("DRPAIR_LIBVIRTD_STATE");
  if (state == nullptr) {
    throw std::runtime_error(name + " is not set: run through ctest (fixture libvirtd)");
  }
  std::istringstream lines(testing::slurp(std::string(state) + "/env"));
  for (std::string line; std::getline(lines, line);) {
    const auto eq = line.find('=');
    if (eq == std::string::npos || line.substr(0, eq) != name) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
      value = value.substr(1, value.size() - 2);
    }
    return value;
  }
  throw std::runtime_error(name + " is not in " + std::string(state) + "/env");
}

std::shared_ptr<Hypervisor> connect() {
  auto h = open_libvirt(env("DRPAIR_LIBVIRT_URI"));
  if (!h) throw std::runtime_error(h.error().message);
  return std::shared_ptr<Hypervisor>(std::move(*h));
}

// APP1 as the DR site runs it in tests: tiny diskless TCG guests (no Ceph in this tier), the
// networks, MACs, boot order and names of the golden second description.
dr::model::SecondDescription tiny_app1() {
  auto second = testing::load_second("golden/app1.second.json");
  for (auto& vm : second.vms) {
    vm.spec = {1, 64};
    vm.disks.clear();
  }
  return second;
}

SiteConfig qemu_site() {
  SiteConfig config;
  config.site = "site-b";
  config.domain_type = "qemu";
  config.parallelism = 4;
  config.start_timeout_seconds = 60;
  return config;
}

std::string ovs(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/ovs-vsctl", "--db=" + env("DRPAIR_OVS_DB")};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = dr::testing::run_process(argv);
  if (r.exit_code != 0) throw std::runtime_error("ovs-vsctl: " + r.err);
  std::string out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '"')) out.pop_back();
  if (!out.empty() && out.front() == '"') out.erase(0, 1);
  return out;
}

// When the domain's QEMU process started (clock ticks since boot, /proc/PID/stat field 22).
long long started_at(const std::string& domain) {
  const std::string pid = testing::slurp(env("DRPAIR_LIBVIRTD_STATE") + "/run/libvirt/qemu/" +
                                         domain + ".pid");
  const std::string stat = testing::slurp("/proc/" + std::to_string(std::stoi(pid)) + "/stat");
  std::size_t at = stat.rfind(')');
  for (int field = 2; field < 22; ++field) at = stat.find(' ', at + 1);
  return std::stoll(stat.substr(at + 1));
}

}  // namespace

TEST_CASE("restore of APP1 on a real libvirtd: VMs run, each NIC on its VLAN portgroup, "
          "teardown leaves nothing",
          "[system][kvm]") {
  const std::string uri = env("DRPAIR_LIBVIRT_URI");
  auto primary = connect();
  const std::string before = testing::site_picture(*primary);
  const std::string ports_before = ovs({"list-ports", env("DRPAIR_OVS_BRIDGE")});
  const auto second = tiny_app1();
  const SiteConfig config = qemu_site();
  MemoryJournal journal;
  Steps steps(journal);

  const auto report =
      RestoreWorkflow(second, config, *primary, libvirt_factory(uri, primary)).run(steps);
  INFO((report.failure ? report.failure->step + ": " + report.failure->error.message : ""));
  REQUIRE(report.ok());

  for (const auto& vm : second.vms) {
    INFO(vm.name);
    auto status = primary->domain_status(vm.name);
    REQUIRE(status);
    CHECK(status->state == DomainState::running);
    auto live = primary->get_domain(vm.name, true);
    REQUIRE(live);
    // The metadata alone, as QEMU's driver hands it back, is the definition's membership.
    auto site = primary->list_members();
    REQUIRE(site);
    const auto member = std::find_if(site->begin(), site->end(),
                                     [&](const DomainMember& m) { return m.status.name == vm.name; });
    REQUIRE(member != site->end());
    REQUIRE(member->membership);
    CHECK(member->membership == live->membership);
    REQUIRE(live->nics.size() == vm.nics.size());
    for (std::size_t n = 0; n < vm.nics.size(); ++n) {
      const auto net = std::find_if(second.networks.begin(), second.networks.end(),
                                    [&](const auto& b) { return b.id == vm.nics[n].network; });
      REQUIRE(net != second.networks.end());
      const auto& nic = live->nics[n];
      CHECK(nic.mac == vm.nics[n].mac);
      CHECK(nic.network == net->switch_name);
      CHECK(nic.portgroup == net->portgroup);
      CHECK(nic.live_vlan == net->vlan);  // libvirt applied the portgroup's <vlan>
      REQUIRE(nic.target_dev);
      // ... and Open vSwitch really tags the port.
      CHECK(ovs({"get", "port", *nic.target_dev, "tag"}) == std::to_string(*net->vlan));
    }
  }
  // Boot order: db1 (1) before app1 (2) before web1/web2 (3), by QEMU process start time.
  CHECK(started_at("app1-db1") < started_at("app1-app1"));
  CHECK(started_at("app1-app1") < started_at("app1-web1"));
  CHECK(started_at("app1-app1") < started_at("app1-web2"));

  // Running it again changes nothing.
  const std::string after = testing::site_picture(*primary);
  MemoryJournal fresh;
  Steps fresh_steps(fresh);
  REQUIRE(RestoreWorkflow(second, config, *primary, libvirt_factory(uri, primary))
              .run(fresh_steps)
              .ok());
  CHECK(testing::site_picture(*primary) == after);

  const auto removed = teardown(*primary, "app1", &journal);
  REQUIRE(removed);
  CHECK(removed->domains.size() == 4);
  CHECK(removed->portgroups.size() == 3);
  CHECK(testing::site_picture(*primary) == before);
  CHECK(ovs({"list-ports", env("DRPAIR_OVS_BRIDGE")}) == ports_before);
}

TEST_CASE("restore on a real libvirtd with consoleLogDir: each VM's serial log is a host file",
          "[system][kvm]") {
  const std::string uri = env("DRPAIR_LIBVIRT_URI");
  auto primary = connect();
  const auto second = tiny_app1();
  SiteConfig config = qemu_site();
  // libvirtd runs in a private mount namespace that remaps /run, /etc/libvirt, /var/lib/libvirt,
  // /var/cache/libvirt and /var/log/libvirt (deploy/libvirtd.sh); the site's state folder itself is
  // not remapped, so a path under it is the same file inside and outside.
  const std::filesystem::path dir =
      std::filesystem::path(env("DRPAIR_LIBVIRTD_STATE")) / "console-logs";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  config.console_log_dir = dir.string();
  MemoryJournal journal;
  Steps steps(journal);

  const auto report =
      RestoreWorkflow(second, config, *primary, libvirt_factory(uri, primary)).run(steps);
  INFO((report.failure ? report.failure->step + ": " + report.failure->error.message : ""));
  REQUIRE(report.ok());

  for (const auto& vm : second.vms) {
    INFO(vm.name);
    const std::string log = (dir / (vm.name + ".log")).string();
    auto live = primary->get_domain(vm.name, true);
    REQUIRE(live);
    CHECK(live->serial_log == log);
    auto status = primary->domain_status(vm.name);
    REQUIRE(status);
    CHECK(status->state == DomainState::running);
    // QEMU opened (created) the log when the guest started.
    CHECK(std::filesystem::is_regular_file(log));
  }

  const auto removed = teardown(*primary, "app1", &journal);
  REQUIRE(removed);
  CHECK(removed->domains.size() == second.vms.size());
  std::filesystem::remove_all(dir);
}

TEST_CASE("the QEMU driver accepts the restore's RBD disk definition", "[system][kvm]") {
  auto hv = connect();
  auto second = testing::load_second("golden/app1.second.json");
  second.vms.resize(1);
  second.vms[0].spec = {1, 64};
  SiteConfig config = qemu_site();
  config.ceph.monitors = {{"127.0.0.1", 6789}};
  config.ceph.user = "libvirt";
  config.ceph.secret_uuid = "5e1b0000-0000-4000-8000-0000000000c1";
  config.ceph.client_conf = "/etc/ceph/drpair-test.conf";
  DomainDef def;
  def.name = "drpair-rbd-probe";
  def.uuid = "5e1b0000-0000-4000-8000-0000000000d1";
  def.type = "qemu";
  def.memory_mib = 64;
  DiskDef disk;
  disk.target = "vda";
  disk.rbd = true;
  disk.pool = "rbd";
  disk.image = "app1-web1-root";
  disk.monitors = config.ceph.monitors;
  disk.auth_user = config.ceph.user;
  disk.secret_uuid = config.ceph.secret_uuid;
  disk.config_file = config.ceph.client_conf;
  def.disks.push_back(disk);
  REQUIRE(hv->define_domain(def));
  auto back = hv->get_domain(def.name);
  REQUIRE(hv->undefine_domain(def.name));
  REQUIRE(back);
  REQUIRE(back->disks.size() == 1);
  CHECK(back->disks[0] == disk);
}
