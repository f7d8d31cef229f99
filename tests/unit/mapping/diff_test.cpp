#include <catch2/catch.hpp>

#include "mapping/mapping.hpp"
#include "mapping_fixtures.hpp"

using namespace dr::mapping::testing;
using dr::mapping::Change;
using dr::mapping::diff;

namespace {

std::string show(const std::vector<Change>& changes) {
  std::string out;
  for (const auto& c : changes) {
    out += std::string(dr::mapping::to_string(c.kind)) + " " + c.pointer + " " + c.what +
           (c.detail.empty() ? "" : ": " + c.detail) + "\n";
  }
  return out;
}

bool has_change(const std::vector<Change>& changes, const std::string& pointer,
                const std::string& fragment) {
  for (const auto& c : changes) {
    if (c.kind == Change::Kind::changed && c.pointer == pointer &&
        c.detail.find(fragment) != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("diff of a description with itself is empty", "[unit][mapping]") {
  CHECK(diff(app1(), app1()).empty());
  CHECK(diff(app1_second(true), app1_second(true)).empty());
}

TEST_CASE("diff ignores capture bookkeeping: generation and capture time", "[unit][mapping]") {
  auto after = app1();
  after.app.generation = 4;
  after.app.captured_at = "2026-11-25T20:00:00Z";
  CHECK(diff(app1(), after).empty());
}

TEST_CASE("diff of first descriptions: changed VM fields, disks and NICs", "[unit][mapping]") {
  auto after = app1();
  after.vms[3].spec.memory_mib = 16384;
  after.vms[3].boot_order = 2;
  after.vms[3].disks[1].size_gib = 200;
  after.vms[3].disks[1].bus = "scsi";
  after.vms[0].nics[1].network = "vswitch0.app1-app";
  after.vms[1].nics[0].network = "vswitch0.app1-app";
  after.vms[1].nics[0].ip = "192.168.20.12";
  after.vms[1].nics[0].model = "e1000e";
  const auto changes = diff(app1(), after);
  CHECK(show(changes) ==
        "changed /vms/0/nics/1 nic 52:54:00:10:00:02 of vm 'app1-web1': network (none) -> "
        "'vswitch0.app1-app'\n"
        "changed /vms/1/nics/0 nic 52:54:00:10:00:03 of vm 'app1-web2': network "
        "'vswitch0.app1-web' -> 'vswitch0.app1-app', ip '192.168.10.12' -> '192.168.20.12', model "
        "(none) -> 'e1000e'\n"
        "changed /vms/3 vm 'app1-db1': spec.memoryMiB 8192 -> 16384, bootOrder 1 -> 2\n"
        "changed /vms/3/disks/1 disk 'vdb' of vm 'app1-db1': sizeGiB 100 -> 200, bus (none) -> "
        "'scsi'\n");
}

TEST_CASE("diff of first descriptions: VMs, disks, NICs and networks added and removed",
          "[unit][mapping]") {
  auto after = app1();
  after.vms.erase(after.vms.begin() + 1);                    // app1-web2 removed
  after.vms[2].disks.erase(after.vms[2].disks.begin() + 1);  // app1-db1 vdb removed
  after.vms[2].disks.push_back({"vdc", "rbd", "app1-db1-logs", 5, std::nullopt, ""});
  after.vms[0].nics.push_back({"52:54:00:10:00:09", std::nullopt, "192.168.30.9", std::nullopt});
  after.networks[1].vlan = 202;
  after.networks.push_back({"vswitch0.app1-mgmt", "app1-mgmt", "vswitch0", "app1-mgmt", 104, {}});
  const auto changes = diff(app1(), after);
  CHECK(show(changes) ==
        "changed /networks/1 network 'vswitch0.app1-app': vlan 102 -> 202\n"
        "added /networks/3 network 'vswitch0.app1-mgmt'\n"
        "added /vms/0/nics/2 nic 52:54:00:10:00:09 of vm 'app1-web1'\n"
        "added /vms/2/disks/1 disk 'vdc' of vm 'app1-db1'\n"
        "removed /vms/3/disks/1 disk 'vdb' of vm 'app1-db1'\n"
        "removed /vms/1 vm 'app1-web2'\n");
}

TEST_CASE("diff of first descriptions: the app's name and site", "[unit][mapping]") {
  auto after = app1();
  after.app.site = "site-c";
  const auto changes = diff(app1(), after);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0] ==
        Change{Change::Kind::changed, "/app", "app 'app1'", "site 'site-a' -> 'site-c'"});
}

TEST_CASE("diff of second descriptions: networks, VMs and replication pairs", "[unit][mapping]") {
  const auto before = app1_second(false);
  const auto after = app1_second(true);
  const auto changes = diff(before, after);
  CHECK(has_change(changes, "/app", "site 'site-a-dr' -> 'site-b'"));
  CHECK(has_change(changes, "/networks/2", "switch 'vswitch0' -> 'dr-vswitch1', vlan 103 -> 1103"));
  CHECK(has_change(changes, "/vms/3", "spec.memoryMiB 8192 -> 4096"));
  CHECK(has_change(changes, "/vms/0/nics/0", "ip '192.168.10.11' -> '10.10.10.11'"));
  CHECK(has_change(changes, "/replication/4", "intervalMinutes 1 -> 5"));
}

TEST_CASE("diff of second descriptions: replication pairs added and removed, sources changed",
          "[unit][mapping]") {
  const auto before = app1_second(true);
  auto after = before;
  after.replication.erase(after.replication.begin());
  after.replication.push_back(before.replication[0]);
  after.replication.back().source.image = "app1-extra";
  after.networks[0].source = "vswitch0.app1-app";
  after.vms[2].source = "other";
  const auto changes = diff(before, after);
  CHECK(show(changes) ==
        "changed /networks/0 network 'vswitch0.app1-web': source 'vswitch0.app1-web' -> "
        "'vswitch0.app1-app'\n"
        "changed /vms/2 vm 'app1-app1': source '6f1c2a9e-0003-4c1e-9a0b-000000000003' -> "
        "'other'\n"
        "added /replication/4 replication of 'rbd/app1-extra'\n"
        "removed /replication/0 replication of 'rbd/app1-web1-root'\n");
}

TEST_CASE("change kinds have their wire spelling", "[unit][mapping]") {
  CHECK(std::string(dr::mapping::to_string(Change::Kind::added)) == "added");
  CHECK(std::string(dr::mapping::to_string(Change::Kind::removed)) == "removed");
  CHECK(std::string(dr::mapping::to_string(Change::Kind::changed)) == "changed");
}
