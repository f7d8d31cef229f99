#include <catch2/catch.hpp>
#include <functional>

#include "mapping/document_order.hpp"
#include "mapping/mapping.hpp"
#include "mapping_fixtures.hpp"

using namespace dr::mapping::testing;
using dr::mapping::validate;
using dr::model::Problems;
using dr::model::SecondDescription;

namespace {

// The problems of APP1's generated second description (with its policy) after `corrupt`,
// validated against APP1 and, when given, an inventory.
Problems problems_after(const std::function<void(SecondDescription&)>& corrupt,
                        const dr::model::Inventory* inventory = nullptr) {
  auto second = app1_second(true);
  corrupt(second);
  return validate(app1(), second, inventory);
}

// The same against site-b's inventory, changed by `adjust` first.
Problems site_problems_after(
    const std::function<void(SecondDescription&)>& corrupt,
    const std::function<void(dr::model::Inventory&)>& adjust = [](dr::model::Inventory&) {}) {
  auto inventory = site_b();
  adjust(inventory);
  return problems_after(corrupt, &inventory);
}

}  // namespace

TEST_CASE("the generated second descriptions of APP1 validate without problems",
          "[unit][mapping]") {
  const auto inventory = site_b();
  CHECK(dump(validate(app1(), app1_second(false))).empty());
  CHECK(dump(validate(app1(), app1_second(true))).empty());
  CHECK(dump(validate(app1(), app1_second(true), &inventory)).empty());
}

// ---- app ----

TEST_CASE("validate: an app id that differs from the first description's", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.app.id = "app2"; });
  CHECK(has(p, "/app/id", "app id 'app2' differs from the first description's 'app1'"));
}

TEST_CASE("validate: an app name that differs", "[unit][mapping]") {
  CHECK(has(problems_after([](auto& s) { s.app.name = "APP2"; }), "/app/name", "'APP1'"));
}

TEST_CASE("validate: a sourceGeneration that is not the first's generation", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.app.source_generation = 2; });
  CHECK(has(p, "/app/sourceGeneration",
            "sourceGeneration 2 differs from the first description's generation 3"));
}

TEST_CASE("validate: a sourceSite that is not the first's site", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.app.source_site = "site-x"; });
  CHECK(has(p, "/app/sourceSite",
            "sourceSite 'site-x' differs from the first description's "
            "site 'site-a'"));
}

TEST_CASE("validate: a DR site that is the source site", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.app.site = "site-a"; });
  CHECK(has(p, "/app/site", "is the source site itself"));
}

// ---- coverage: nothing left out, nothing twice, nothing unknown ----

TEST_CASE("validate: a source VM left out", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms.pop_back(); });
  CHECK(has(p, "/vms",
            "source vm 'app1-db1' (6f1c2a9e-0004-4c1e-9a0b-000000000004) has no backup vm"));
}

TEST_CASE("validate: a source VM covered twice", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[1].source = s.vms[0].source; });
  CHECK(has(p, "/vms/1/source",
            "source vm 'app1-web1' (6f1c2a9e-0001-4c1e-9a0b-000000000001) already has backup "
            "vm 'app1-web1' (/vms/0)"));
  CHECK(has(p, "/vms", "source vm 'app1-web2'"));
}

TEST_CASE("validate: a backup VM whose source is unknown", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[2].source = "no-such-vm"; });
  CHECK(has(p, "/vms/2/source", "no source vm 'no-such-vm' in the first description"));
}

TEST_CASE("validate: a source network left out", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.networks.erase(s.networks.begin() + 1); });
  CHECK(has(p, "/networks", "source network 'app1-app' (vswitch0.app1-app) has no backup network"));
  // and the NICs that were on it now name no backup network
  CHECK(has(p, "/vms/0/nics/1/network", "no backup network 'vswitch0.app1-app'"));
}

TEST_CASE("validate: a source network covered twice", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.networks[1].source = s.networks[0].source; });
  CHECK(has(p, "/networks/1/source",
            "source network 'vswitch0.app1-web' already has backup network 'vswitch0.app1-web' "
            "(/networks/0)"));
}

TEST_CASE("validate: a backup network whose source is unknown", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.networks[2].source = "vswitch0.gone"; });
  CHECK(has(p, "/networks/2/source", "no source network 'vswitch0.gone'"));
}

// ---- duplicates ----

TEST_CASE("validate: duplicate backup network ids", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.networks[2].id = s.networks[0].id; });
  CHECK(has(p, "/networks/2/id",
            "duplicate backup network id 'vswitch0.app1-web' (also "
            "/networks/0)"));
}

TEST_CASE("validate: duplicate VM ids", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[3].id = s.vms[0].id; });
  CHECK(has(p, "/vms/3/id", "duplicate vm id 6f1c2a9e-0001-4c1e-9a0b-000000000001 (also /vms/0)"));
}

TEST_CASE("validate: duplicate VM names", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[1].name = "app1-web1"; });
  CHECK(has(p, "/vms/1/name", "duplicate vm name 'app1-web1' (also /vms/0)"));
}

TEST_CASE("validate: duplicate MACs", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[2].nics[0].mac = s.vms[0].nics[0].mac; });
  CHECK(has(p, "/vms/2/nics/0/mac", "duplicate MAC 52:54:00:10:00:01 (also /vms/0/nics/0)"));
}

TEST_CASE("validate: duplicate addresses", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[2].nics[0].ip = "192.168.20.11"; });
  CHECK(has(p, "/vms/2/nics/0/ip", "duplicate address 192.168.20.11 (also /vms/0/nics/1)"));
}

// ---- disks ----

TEST_CASE("validate: a source disk missing from its backup VM", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[3].disks.pop_back(); });
  CHECK(has(p, "/vms/3/disks",
            "disk 'vdb' ('rbd/app1-db1-data') of source vm 'app1-db1' has no "
            "backup disk"));
}

TEST_CASE("validate: a backup disk the source VM does not have", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) {
    s.vms[3].disks.push_back({"vdc", "rbd", "app1-db1-logs", 5, std::nullopt, ""});
  });
  CHECK(has(p, "/vms/3/disks/2/target", "disk 'vdc' is not a disk of source vm 'app1-db1'"));
}

TEST_CASE("validate: two disks with one target in a VM", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[3].disks[1].target = "vda"; });
  CHECK(has(p, "/vms/3/disks/1/target", "duplicate disk target 'vda' (also /vms/3/disks/0)"));
}

TEST_CASE("validate: one image used by two disks", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[1].disks[0].image = "app1-web1-root"; });
  CHECK(has(p, "/vms/1/disks/0/image",
            "image 'rbd/app1-web1-root' is also the disk /vms/0/disks/0"));
}

TEST_CASE("validate: a backup disk whose size differs from its source's", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[3].disks[1].size_gib = 50; });
  CHECK(has(p, "/vms/3/disks/1/sizeGiB", "size 50 GiB differs from the source disk's 100 GiB"));
}

TEST_CASE("validate: a backup NIC of another model than its source's", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[0].nics[0].model = "e1000"; });
  CHECK(has(p, "/vms/0/nics/0/model", "model 'e1000' differs from the source NIC's 'virtio'"));
}

TEST_CASE("validate: a backup disk on another bus than its source's", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[3].disks[1].bus = "sata"; });
  CHECK(has(p, "/vms/3/disks/1/bus", "bus 'sata' differs from the source disk's 'virtio'"));
}

// ---- NICs ----

TEST_CASE("validate: a source NIC missing from its backup VM", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[0].nics.pop_back(); });
  CHECK(has(p, "/vms/0/nics", "NIC 52:54:00:10:00:02 of source vm 'app1-web1' has no backup NIC"));
}

TEST_CASE("validate: a backup NIC whose MAC its source VM does not have", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[0].nics[0].mac = "52:54:00:99:00:01"; });
  CHECK(has(p, "/vms/0/nics/0/mac", "MAC 52:54:00:99:00:01 is not a NIC of source vm 'app1-web1'"));
}

TEST_CASE("validate: a NIC on a network that is not a backup network", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[0].nics[0].network = "nowhere"; });
  CHECK(has(p, "/vms/0/nics/0/network", "no backup network 'nowhere' in this description"));
}

TEST_CASE("validate: a NIC on the backup of another network than its source NIC's",
          "[unit][mapping]") {
  const auto p = problems_after([](auto& s) {
    s.vms[3].nics[0].network = "vswitch0.app1-app";
    s.vms[3].nics[0].ip = "192.168.20.31";
  });
  CHECK(has(p, "/vms/3/nics/0/network",
            "backup network 'vswitch0.app1-app' backs source network 'vswitch0.app1-app', but "
            "the source NIC is on 'vswitch0.app1-db'"));
}

TEST_CASE("validate: an address-only source NIC placed off the network its address is in",
          "[unit][mapping]") {
  // Source NIC 52:54:00:10:00:02 has only 192.168.20.11: it belongs on the app network.
  const auto p = problems_after([](auto& s) {
    s.vms[0].nics[1].network = "vswitch0.app1-db";
    s.vms[0].nics[1].ip = "192.168.30.11";
  });
  CHECK(has(p, "/vms/0/nics/1/network", "the source NIC is on 'vswitch0.app1-app'"));
}

TEST_CASE("validate: an address outside its network's subnets", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[0].nics[0].ip = "192.168.10.11"; });
  CHECK(has(p, "/vms/0/nics/0/ip",
            "address 192.168.10.11 is in no subnet of backup network "
            "'vswitch0.app1-web' (10.10.10.0/24)"));
}

TEST_CASE("validate: an address that is its subnet's gateway, network or broadcast address",
          "[unit][mapping]") {
  const auto p = problems_after([](auto& s) {
    s.vms[0].nics[0].ip = "10.10.10.1";
    s.vms[1].nics[0].ip = "10.10.10.0";
    s.vms[3].nics[0].ip = "192.168.30.255";
  });
  CHECK(has(p, "/vms/0/nics/0/ip", "10.10.10.1 is the gateway of subnet 10.10.10.0/24"));
  CHECK(has(p, "/vms/1/nics/0/ip", "10.10.10.0 is the network address"));
  CHECK(has(p, "/vms/3/nics/0/ip", "192.168.30.255 is the broadcast address"));
}

// ---- networks ----

TEST_CASE("validate: a gateway outside its subnet", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.networks[1].subnets[0].gateway = "10.0.0.1"; });
  CHECK(has(p, "/networks/1/subnets/0/gateway",
            "gateway 10.0.0.1 is not in subnet "
            "192.168.20.0/24"));
}

TEST_CASE("validate: the same subnet on two backup networks", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.networks[2].subnets = s.networks[1].subnets; });
  CHECK(has(p, "/networks/2/subnets/0/cidr",
            "subnet 192.168.20.0/24 overlaps subnet 192.168.20.0/24 of backup network "
            "'vswitch0.app1-app' (/networks/1/subnets/0)"));
}

TEST_CASE("validate: a subnet inside another backup network's subnet", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) {
    s.networks[0].subnets.push_back({"192.168.30.64/26", std::nullopt});
  });
  CHECK(has(p, "/networks/0/subnets/1/cidr",
            "overlaps subnet 192.168.30.0/24 of backup network 'vswitch0.app1-db'"));
}

TEST_CASE("validate: two backup networks on one portgroup of a switch", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) {
    s.networks[2].switch_name = "dr-vswitch0";
    s.networks[2].portgroup = "app1-app";
  });
  CHECK(has(p, "/networks/2/portgroup",
            "portgroup 'app1-app' on switch 'dr-vswitch0' is also used by backup network "
            "'vswitch0.app1-app' (/networks/1)"));
}

TEST_CASE("validate: two backup networks on one switch itself", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) {
    s.networks[0].portgroup.reset();
    s.networks[1].portgroup.reset();
  });
  CHECK(has(p, "/networks/1/switch", "also sits on switch 'dr-vswitch0' itself"));
}

TEST_CASE("validate: two portgroups of one switch with one VLAN", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.networks[1].vlan = 1101; });
  CHECK(has(p, "/networks/1/vlan",
            "VLAN 1101 on switch 'dr-vswitch0' is also used by backup network "
            "'vswitch0.app1-web' (/networks/0)"));
}

TEST_CASE("validate: one VLAN on two different switches is fine", "[unit][mapping]") {
  CHECK(problems_after([](auto& s) { s.networks[2].vlan = 1101; }).empty());
}

// ---- spec ----

TEST_CASE("validate: a spec of 0 vCPUs or 0 MiB", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.vms[1].spec = {0, 0}; });
  CHECK(has(p, "/vms/1/spec/vcpus", "vcpus must be between 1 and 4096, found 0"));
  CHECK(has(p, "/vms/1/spec/memoryMiB", "found 0"));
}

// ---- replication ----

TEST_CASE("validate: a source disk without a replication pair", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.replication.pop_back(); });
  CHECK(has(p, "/replication",
            "disk 'vdb' ('rbd/app1-db1-data') of source vm 'app1-db1' has no "
            "replication pair"));
}

TEST_CASE("validate: a source disk replicated twice", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) {
    s.replication.push_back(s.replication[0]);
    s.replication.back().target.image = "copy";
  });
  CHECK(has(p, "/replication/5/source",
            "image 'rbd/app1-web1-root' is already replicated by /replication/0"));
}

TEST_CASE("validate: a replication pair whose source is no source disk", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.replication[1].source.image = "stray"; });
  CHECK(has(p, "/replication/1/source", "image 'rbd/stray' is not a disk of any source vm"));
  CHECK(has(p, "/replication", "disk 'vda' ('rbd/app1-web2-root') of source vm 'app1-web2'"));
}

TEST_CASE("validate: a replication target that is not the backup VM's disk", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.replication[4].target.pool = "rbd-ssd"; });
  CHECK(has(p, "/replication/4/target",
            "target 'rbd-ssd/app1-db1-data' is not the backup disk 'rbd/app1-db1-data' of "
            "vm 'app1-db1' (/vms/3/disks/1)"));
  CHECK(has(p, "/replication/4/target",
            "RBD mirroring keeps the pool, namespace and image name: the target of 'rbd/app1-db1-data' must "
            "be the same, not 'rbd-ssd/app1-db1-data'"));
}

TEST_CASE("validate: a backup disk or a pair target in another RBD namespace than its source",
          "[unit][mapping]") {
  const auto p = problems_after([](auto& s) {
    s.vms[3].disks[1].rbd_namespace = "dr";
    s.replication[4].target.rbd_namespace = "dr";
  });
  CHECK(has(p, "/vms/3/disks/1/namespace",
            "RBD namespace 'dr' differs from the source disk's '' (rbd-mirror replicates an image "
            "into the namespace of its name)"));
  CHECK(has(p, "/replication/4/target",
            "RBD mirroring keeps the pool, namespace and image name: the target of "
            "'rbd/app1-db1-data' must be the same, not 'rbd/dr/app1-db1-data'"));
}

TEST_CASE("validate: two replication pairs with one target", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.replication[1].target = s.replication[0].target; });
  CHECK(has(p, "/replication/1/target",
            "target image 'rbd/app1-web1-root' is also the target of /replication/0"));
}

TEST_CASE("validate: a replication interval below one minute", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) { s.replication[2].interval_minutes = 0; });
  CHECK(has(p, "/replication/2/intervalMinutes", "at least 1, found 0"));
}

// ---- against the DR site's inventory ----

TEST_CASE("validate at the site: the description is for another site", "[unit][mapping]") {
  const auto p = site_problems_after([](auto&) {}, [](auto& inv) { inv.site = "site-c"; });
  CHECK(has(p, "/app/site",
            "the description is for site 'site-b', but the inventory is of site "
            "'site-c'"));
}

TEST_CASE("validate at the site: a switch the site does not have", "[unit][mapping]") {
  const auto p = site_problems_after([](auto& s) { s.networks[1].switch_name = "dr-vswitch9"; });
  CHECK(has(p, "/networks/1/switch", "switch 'dr-vswitch9' does not exist at site-b"));
}

TEST_CASE("validate at the site: this app's own portgroup from an earlier restore is no clash",
          "[unit][mapping]") {
  // site-b has app1-web-dr with VLAN 1101 and 10.10.10.0/24 on dr-vswitch0: APP1's own.
  CHECK(site_problems_after([](auto&) {}).empty());
}

TEST_CASE("validate at the site: a portgroup of the same name with another VLAN",
          "[unit][mapping]") {
  const auto p = site_problems_after([](auto& s) { s.networks[0].vlan = 1201; });
  CHECK(has(p, "/networks/0/portgroup",
            "portgroup 'app1-web-dr' already exists on switch 'dr-vswitch0' at site-b with VLAN "
            "1101, not this network's VLAN 1201"));
}

TEST_CASE("validate at the site: a VLAN another portgroup of the switch uses", "[unit][mapping]") {
  const auto p = site_problems_after([](auto& s) { s.networks[1].vlan = 201; });
  CHECK(has(p, "/networks/1/vlan",
            "VLAN 201 is already used on switch 'dr-vswitch0' at site-b by portgroup 'app2-web'"));
}

TEST_CASE("validate at the site: a network on a switch itself whose VLAN differs",
          "[unit][mapping]") {
  const auto p = site_problems_after([](auto& s) {
    s.networks[1].switch_name = "default";
    s.networks[1].portgroup.reset();
  });
  CHECK(has(p, "/networks/1/vlan",
            "sits on switch 'default' itself, which has no VLAN at "
            "site-b, not VLAN 102"));
}

TEST_CASE("validate at the site: a subnet overlapping one the site already has",
          "[unit][mapping]") {
  const auto p = site_problems_after([](auto& s) {
    s.networks[1].subnets[0] = {"10.20.10.0/25", "10.20.10.1"};
    for (auto& vm : s.vms) {
      for (auto& nic : vm.nics) {
        if (nic.network == "vswitch0.app1-app") nic.ip.reset();
      }
    }
  });
  CHECK(has(p, "/networks/1/subnets/0/cidr",
            "subnet 10.20.10.0/25 overlaps 10.20.10.0/24 of portgroup 'app2-web' on switch "
            "'dr-vswitch0' at site-b"));
  const auto q = site_problems_after([](auto& s) {
    s.networks[2].subnets[0] = {"192.168.122.0/24", std::nullopt};
  });
  CHECK(has(q, "/networks/2/subnets/0/cidr", "overlaps 192.168.122.0/24 of switch 'default'"));
}

TEST_CASE("validate at the site: a domain of that name belonging to something else",
          "[unit][mapping]") {
  const auto p = site_problems_after([](auto& s) { s.vms[1].name = "app2-web1"; });
  CHECK(has(p, "/vms/1/name",
            "a domain named 'app2-web1' already exists at site-b (id "
            "7a2d3b0f-0001-4d2f-8b1c-000000000001, app 'app2')"));
  const auto q = site_problems_after([](auto&) {}, [](auto& inv) { inv.domains[0].app = "other"; });
  CHECK(has(q, "/vms/0/name", "a domain named 'app1-web1' already exists"));
  const auto r = site_problems_after([](auto&) {}, [](auto& inv) { inv.domains[0].app.reset(); });
  CHECK(has(r, "/vms/0/name", "not a drpair app"));
}

TEST_CASE("validate at the site: a domain id used by a domain of another name", "[unit][mapping]") {
  const auto p = site_problems_after(
      [](auto&) {}, [](auto& inv) { inv.domains[1].id = "6f1c2a9e-0002-4c1e-9a0b-000000000002"; });
  CHECK(has(p, "/vms/1/id",
            "domain id 6f1c2a9e-0002-4c1e-9a0b-000000000002 is already used at "
            "site-b by domain 'app2-web1'"));
}

TEST_CASE("validate at the site: a disk pool and a replication target pool it lacks",
          "[unit][mapping]") {
  const auto p = site_problems_after([](auto& s) {
    s.vms[2].disks[0].pool = "rbd-gone";
    s.replication[2].target.pool = "rbd-gone";
  });
  CHECK(has(p, "/vms/2/disks/0/pool", "pool 'rbd-gone' does not exist at site-b"));
  CHECK(has(p, "/replication/2/target/pool", "pool 'rbd-gone' does not exist at site-b"));
}

TEST_CASE("validate at the site: more memory than the hosts have free", "[unit][mapping]") {
  const auto p = site_problems_after(
      [](auto&) {},
      [](auto& inv) { inv.hosts[0].free_memory_mib = inv.hosts[1].free_memory_mib = 1000; });
  CHECK(has(p, "/vms", "the app needs 8192 MiB of memory; the hosts of site-b have 2000 MiB free"));
}

TEST_CASE("validate at the site: more vCPUs than the hosts may allocate", "[unit][mapping]") {
  const auto p = site_problems_after([](auto&) {},
                                     [](auto& inv) {
                                       inv.cpu_allocation_ratio = 1.0;
                                       inv.hosts[0].allocated_vcpus = 14;
                                       inv.hosts[1].allocated_vcpus = 4;
                                     });
  // 16 - 14 + 8 - 4 = 6 < 12
  CHECK(has(p, "/vms", "the app needs 12 vCPUs; the hosts of site-b can allocate 6 more"));
}

TEST_CASE("validate at the site: a VM larger than the largest host", "[unit][mapping]") {
  const auto p = site_problems_after([](auto& s) { s.vms[3].spec = {32, 131072}; });
  CHECK(has(p, "/vms/3/spec/vcpus",
            "vm 'app1-db1' needs 32 vCPUs; the largest host at site-b "
            "('dr-host1') has 16 CPUs"));
  CHECK(has(p, "/vms/3/spec/memoryMiB",
            "needs 131072 MiB of memory; the largest host at site-b "
            "('dr-host1') has 65536 MiB"));
}

TEST_CASE("validate at the site: disks that do not fit their pool's free space",
          "[unit][mapping]") {
  // rbd: 10 + 10 + 20 + 20 + 100 GiB; with 50 free, app1-db1's root (to 60) is the first over.
  const auto p = site_problems_after([](auto&) {}, [](auto& inv) { inv.pools[0].free_gib = 50; });
  CHECK(has(p, "/vms/3/disks/0/sizeGiB",
            "the app's disks in pool 'rbd' need 160 GiB; it has 50 GiB free at site-b"));
}

TEST_CASE("validate at the site: a site without hosts", "[unit][mapping]") {
  const auto p = site_problems_after([](auto&) {}, [](auto& inv) { inv.hosts.clear(); });
  CHECK(has(p, "/vms", "site-b has no hosts"));
}

// ---- all at once, in document order ----

TEST_CASE("validate reports every problem at once, in document order", "[unit][mapping]") {
  const auto p = problems_after([](auto& s) {
    s.replication[0].interval_minutes = 0;
    s.vms[3].nics[0].mac = "52:54:00:99:99:99";
    s.vms[0].spec.vcpus = 0;
    s.networks[2].subnets[0].gateway = "1.2.3.4";
    s.app.id = "x";
  });
  std::vector<std::string> pointers;
  for (const auto& problem : p) pointers.push_back(problem.pointer);
  CHECK(pointers == std::vector<std::string>{
                        "/app/id", "/networks/2/subnets/0/gateway", "/vms/0/spec/vcpus",
                        "/vms/3/nics", "/vms/3/nics/0/mac", "/replication/0/intervalMinutes"});
}

TEST_CASE("problems sort by pointer with indices as numbers", "[unit][mapping]") {
  Problems p{{"/vms/10/id", "c"}, {"/replication", "e"}, {"/vms/2/nics/0/ip", "b"},
             {"/vms/2", "a"},     {"/app/id", "0"},      {"/vms/10/id", "d"}};
  dr::mapping::sort_in_document_order(p);
  std::string order;
  for (const auto& problem : p) order += problem.message;
  CHECK(order == "0abcde");
}
