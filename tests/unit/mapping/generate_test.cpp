#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mapping/mapping.hpp"
#include "mapping_fixtures.hpp"

using namespace dr::mapping::testing;
using dr::mapping::generate;
using dr::mapping::validate;
using dr::model::FirstDescription;
using dr::model::MappingPolicy;

namespace {

// Compares `text` with the golden file, or rewrites the file when DR_REGENERATE_GOLDEN=1 (as
// libvirt's VIR_TEST_REGENERATE_OUTPUT does), so an intended change is one command and a diff.
void check_golden(const std::string& name, const std::string& text) {
  const std::string path = fixture_path("golden/" + name);
  const char* regenerate = std::getenv("DR_REGENERATE_GOLDEN");
  if (regenerate != nullptr && std::string(regenerate) == "1") {
    std::ofstream(path, std::ios::binary) << text;
    WARN("rewrote " << path);
  }
  CHECK(text == slurp(path));
}

std::string canonical(const dr::model::SecondDescription& second) {
  return dr::model::to_text(dr::model::to_json(second));
}

// APP1's policy with one change, for the policy-problem tests.
MappingPolicy policy_with(const std::function<void(MappingPolicy&)>& change) {
  auto policy = app1_policy();
  change(policy);
  return policy;
}

}  // namespace

// ---- golden files and determinism ----

TEST_CASE("APP1 without a policy generates the golden second description", "[unit][mapping]") {
  const auto second = app1_second(false);
  check_golden("app1.second.json", canonical(second));
  CHECK(validate(app1(), second).empty());
}

TEST_CASE("APP1 with its policy generates the golden second description", "[unit][mapping]") {
  const auto second = app1_second(true);
  check_golden("app1.second.policy.json", canonical(second));
  CHECK(dump(validate(app1(), second)).empty());
}

TEST_CASE("generation is deterministic: equal inputs give byte-identical text", "[unit][mapping]") {
  const auto first = app1();
  const auto policy = app1_policy();
  const auto a = generate(first, policy);
  const auto b = generate(first, policy);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(canonical(*a) == canonical(*b));
}

TEST_CASE("APP1 with its policy generates against site-b's inventory without problems",
          "[unit][mapping]") {
  const auto inventory = site_b();
  const auto second = generate(app1(), app1_policy(), &inventory);
  REQUIRE(second);
  CHECK(second->app.site == "site-b");
  CHECK(validate(app1(), *second, &inventory).empty());
}

// ---- the app ----

TEST_CASE("the backup app keeps id and name and records its source site and generation",
          "[unit][mapping]") {
  const auto second = app1_second(false);
  CHECK(second.app.id == "app1");
  CHECK(second.app.name == "APP1");
  CHECK(second.app.source_site == "site-a");
  CHECK(second.app.source_generation == 3);
}

TEST_CASE("the DR site is the policy's, else the inventory's, else '<source site>-dr'",
          "[unit][mapping]") {
  auto inventory = site_b();
  inventory.site = "site-c";
  SECTION("neither") { CHECK(app1_second(false).app.site == "site-a-dr"); }
  SECTION("the policy's wins") {
    // The inventory then disagrees, which validation reports.
    const auto problems = generate_problems(app1(), app1_policy(), &inventory);
    CHECK(has(problems, "/app/site", "for site 'site-b', but the inventory is of site 'site-c'"));
  }
  SECTION("the inventory's when the policy has none") {
    auto policy = app1_policy();
    policy.site.reset();
    inventory.site = "site-b";
    const auto second = generate(app1(), policy, &inventory);
    REQUIRE(second);
    CHECK(second->app.site == "site-b");
  }
}

// ---- networks ----

TEST_CASE("one backup network per source network, same id, name and source", "[unit][mapping]") {
  const auto first = app1();
  const auto second = app1_second(false);
  REQUIRE(second.networks.size() == first.networks.size());
  for (std::size_t i = 0; i < first.networks.size(); ++i) {
    CHECK(second.networks[i].id == first.networks[i].id);
    CHECK(second.networks[i].source == first.networks[i].id);
    CHECK(second.networks[i].name == first.networks[i].name);
    // No policy: everything kept.
    CHECK(second.networks[i].switch_name == first.networks[i].switch_name);
    CHECK(second.networks[i].portgroup == first.networks[i].portgroup);
    CHECK(second.networks[i].vlan == first.networks[i].vlan);
    CHECK(second.networks[i].subnets == first.networks[i].subnets);
  }
}

TEST_CASE("a network's switch is its rule's, else defaultSwitch, else the source switch",
          "[unit][mapping]") {
  const auto second = app1_second(true);
  CHECK(second.networks[0].switch_name == "dr-vswitch0");  // rule without switch: default
  CHECK(second.networks[1].switch_name == "dr-vswitch0");  // no rule: default
  CHECK(second.networks[2].switch_name == "dr-vswitch1");  // rule's switch
  auto policy = app1_policy();
  policy.default_switch.reset();
  const auto kept = generate(app1(), policy);
  REQUIRE(kept);
  CHECK(kept->networks[1].switch_name == "vswitch0");  // neither: the source switch
}

TEST_CASE("VLAN, portgroup and subnets come from the network's rule, else are kept",
          "[unit][mapping]") {
  const auto second = app1_second(true);
  const auto& web = second.networks[0];
  CHECK(web.vlan == 1101);
  CHECK(web.portgroup == "app1-web-dr");
  REQUIRE(web.subnets.size() == 1);
  CHECK(web.subnets[0].cidr == "10.10.10.0/24");
  CHECK(web.subnets[0].gateway == "10.10.10.1");  // the rule's gateway
  const auto& app = second.networks[1];           // no rule
  CHECK(app.vlan == 102);
  CHECK(app.portgroup == "app1-app");
  CHECK(app.subnets[0].cidr == "192.168.20.0/24");
  const auto& db = second.networks[2];  // a rule with switch and VLAN only
  CHECK(db.vlan == 1103);
  CHECK(db.portgroup == "app1-db");
  CHECK(db.subnets[0].cidr == "192.168.30.0/24");
}

TEST_CASE("a subnet rule without a gateway moves the source gateway, keeping its host part",
          "[unit][mapping]") {
  const auto policy =
      policy_with([](MappingPolicy& p) { p.networks[0].subnets[0].gateway.reset(); });
  const auto second = generate(app1(), policy);
  REQUIRE(second);
  CHECK(second->networks[0].subnets[0].gateway == "10.10.10.1");
}

// ---- VMs ----

TEST_CASE("one backup VM per source VM with the same id, name, boot order and MACs",
          "[unit][mapping]") {
  const auto first = app1();
  const auto second = app1_second(true);
  REQUIRE(second.vms.size() == first.vms.size());
  for (std::size_t i = 0; i < first.vms.size(); ++i) {
    const auto& s = first.vms[i];
    const auto& b = second.vms[i];
    CHECK(b.id == s.id);
    CHECK(b.source == s.id);
    CHECK(b.name == s.name);
    CHECK(b.boot_order == s.boot_order);
    REQUIRE(b.nics.size() == s.nics.size());
    for (std::size_t j = 0; j < s.nics.size(); ++j) CHECK(b.nics[j].mac == s.nics[j].mac);
  }
}

TEST_CASE("the spec is scaled by the policy's percentages, rounded up, at least 1",
          "[unit][mapping]") {
  auto first = app1();
  first.vms[0].spec = {3, 1001};
  first.vms[1].spec = {1, 1};
  auto policy = app1_policy();
  policy.spec = {50, 50};  // memoryPercent, vcpusPercent
  const auto second = generate(first, policy);
  REQUIRE(second);
  CHECK(second->vms[0].spec.vcpus == 2);         // 1.5 -> 2
  CHECK(second->vms[0].spec.memory_mib == 501);  // 500.5 -> 501
  CHECK(second->vms[1].spec.vcpus == 1);         // 0.5 -> 1
  CHECK(second->vms[1].spec.memory_mib == 1);    // 0.5 -> 1
  policy.spec = {1, 1};
  const auto tiny = generate(first, policy);
  REQUIRE(tiny);
  CHECK(tiny->vms[2].spec.vcpus == 1);                      // 4% of 4 -> 0.04 -> 1
  CHECK(app1_second(true).vms[3].spec.memory_mib == 4096);  // APP1's policy: memory 50%
}

TEST_CASE("a spec scaled beyond the schema's limits is reported, not written", "[unit][mapping]") {
  auto first = app1();
  first.vms[1].spec.vcpus = 4000;
  const auto problems =
      generate_problems(first, policy_with([](MappingPolicy& p) { p.spec.vcpus_percent = 200; }));
  CHECK(has(problems, "/vms/1/spec/vcpus", "between 1 and 4096, found 8000"));
}

TEST_CASE("disks keep target, image and size; their pool is mapped by the policy",
          "[unit][mapping]") {
  const auto first = app1();
  const auto second = app1_second(true);
  const auto& s = first.vms[3].disks;
  const auto& b = second.vms[3].disks;
  REQUIRE(b.size() == 2);
  for (std::size_t k = 0; k < 2; ++k) {
    CHECK(b[k].target == s[k].target);
    CHECK(b[k].image == s[k].image);
    CHECK(b[k].size_gib == s[k].size_gib);
    CHECK(b[k].pool == "rbd");
  }
  CHECK(app1_second(false).vms[3].disks[1].pool == "rbd");  // no rule: kept
}

// ---- NICs ----

TEST_CASE("a NIC that names its network stays on that network's backup", "[unit][mapping]") {
  const auto second = app1_second(false);
  CHECK(second.vms[0].nics[0].network == "vswitch0.app1-web");
  CHECK(second.vms[3].nics[0].network == "vswitch0.app1-db");
}

TEST_CASE("a NIC known only by its address goes to the network whose subnet holds it",
          "[unit][mapping]") {
  const auto second = app1_second(false);
  CHECK(second.vms[0].nics[1].network == "vswitch0.app1-app");  // 192.168.20.11
  CHECK(second.vms[0].nics[1].ip == "192.168.20.11");
  CHECK(second.vms[2].nics[1].network == "vswitch0.app1-db");  // 192.168.30.21
}

TEST_CASE("an address in no subnet of the app's networks is an error naming the NIC",
          "[unit][mapping]") {
  const auto first =
      read_fixture("app1.address-in-no-subnet.first.json", dr::model::parse_first_description);
  const auto problems = generate_problems(first);
  REQUIRE(problems.size() == 1);
  CHECK(dr::model::format(problems[0]) ==
        "/vms/2/nics/1/ip: address 10.9.9.9 is in no subnet of the app's networks");
}

TEST_CASE("an address in the subnets of two networks is an error naming the NIC",
          "[unit][mapping]") {
  const auto first =
      read_fixture("app1.address-in-two-networks.first.json", dr::model::parse_first_description);
  const auto problems = generate_problems(first);
  CHECK(has(problems, "/vms/0/nics/1/ip",
            "192.168.20.11 is in subnets of several networks ('vswitch0.app1-app', "
            "'vswitch0.app1-mgmt')"));
  CHECK(has(problems, "/vms/1/nics/1/ip", "several networks"));
  CHECK(problems.size() == 2);
}

TEST_CASE("a NIC naming a network the app does not have is an error", "[unit][mapping]") {
  auto first = app1();
  first.vms[1].nics[0].network = "vswitch0.nowhere";
  CHECK(has(generate_problems(first), "/vms/1/nics/0/network",
            "no network 'vswitch0.nowhere' among the app's networks"));
}

TEST_CASE("a NIC whose address is outside its own network's subnets is an error",
          "[unit][mapping]") {
  auto first = app1();
  first.vms[0].nics[0].ip = "192.168.20.99";  // names the web network, address in app's
  CHECK(has(generate_problems(first), "/vms/0/nics/0/ip",
            "192.168.20.99 is in no subnet of network 'vswitch0.app1-web'"));
}

TEST_CASE("ip translate moves an address into the mapped subnet, keeping its host part",
          "[unit][mapping]") {
  const auto second = app1_second(true);
  CHECK(second.vms[0].nics[0].ip == "10.10.10.11");  // 192.168.10.11, /24 -> /24
  CHECK(second.vms[1].nics[0].ip == "10.10.10.12");
  CHECK(second.vms[0].nics[1].ip == "192.168.20.11");  // subnet without a rule: kept
}

TEST_CASE("ip translate into a narrower subnet where the host part does not fit is an error",
          "[unit][mapping]") {
  const auto policy =
      read_fixture("app1.narrow-subnet.policy.json", dr::model::parse_mapping_policy);
  const auto problems = generate_problems(app1(), policy);
  CHECK(has(problems, "/vms/2/nics/1/ip",
            "address 192.168.30.21 does not fit in 10.10.30.0/28 keeping its host part"));
  CHECK(has(problems, "/vms/3/nics/0/ip", "192.168.30.31 does not fit"));
  CHECK(problems.size() == 2);
}

TEST_CASE("ip translate into a narrower subnet where the host part fits", "[unit][mapping]") {
  const auto policy = policy_with([](MappingPolicy& p) {
    p.networks[0].subnets[0].cidr = "10.10.10.0/25";
    p.networks[0].subnets[0].gateway = "10.10.10.126";
  });
  const auto second = generate(app1(), policy);
  REQUIRE(second);
  CHECK(second->vms[0].nics[0].ip == "10.10.10.11");
}

TEST_CASE("ip keep with a subnet the policy moves is an error naming the NIC", "[unit][mapping]") {
  const auto policy = policy_with([](MappingPolicy& p) { p.ip = dr::model::IpPolicy::keep; });
  const auto problems = generate_problems(app1(), policy);
  CHECK(has(problems, "/vms/0/nics/0/ip",
            "192.168.10.11 is kept (policy ip 'keep'), but its subnet 192.168.10.0/24 maps to "
            "10.10.10.0/24"));
  CHECK(has(problems, "/vms/1/nics/0/ip"));
}

TEST_CASE("ip keep keeps every address when no subnet moves", "[unit][mapping]") {
  const auto first = app1();
  const auto second = app1_second(false);
  for (std::size_t i = 0; i < first.vms.size(); ++i) {
    for (std::size_t j = 0; j < first.vms[i].nics.size(); ++j) {
      CHECK(second.vms[i].nics[j].ip == first.vms[i].nics[j].ip);
    }
  }
}

// ---- replication ----

TEST_CASE("an image in an RBD namespace keeps it in the backup disk and its pair",
          "[unit][mapping]") {
  auto first = app1();
  first.vms[3].disks[1].rbd_namespace = "app1";
  const auto inventory = site_b();
  const auto second = generate(first, app1_policy(), &inventory);
  REQUIRE(second);
  CHECK(second->vms[3].disks[1].rbd_namespace == "app1");
  CHECK(second->replication[4].source == dr::model::ImageRef{"rbd", "app1-db1-data", "app1"});
  CHECK(second->replication[4].target == second->replication[4].source);
  CHECK(dump(dr::mapping::validate(first, *second, &inventory)).empty());
}

TEST_CASE("one replication pair per disk, with the policy's mode and interval", "[unit][mapping]") {
  const auto second = app1_second(true);
  REQUIRE(second.replication.size() == 5);
  const auto& db_data = second.replication[4];
  CHECK(db_data.source == dr::model::ImageRef{"rbd", "app1-db1-data", ""});
  CHECK(db_data.target == dr::model::ImageRef{"rbd", "app1-db1-data", ""});
  CHECK(db_data.mode == dr::model::ReplicationMode::snapshot);
  CHECK(db_data.interval_minutes == 5);
  auto policy = app1_policy();
  policy.replication = {dr::model::ReplicationMode::journal, 30};
  const auto journal = generate(app1(), policy);
  REQUIRE(journal);
  CHECK(journal->replication[0].mode == dr::model::ReplicationMode::journal);
  CHECK(journal->replication[0].interval_minutes == 30);
}

TEST_CASE("without a policy replication is snapshot mode every minute", "[unit][mapping]") {
  for (const auto& pair : app1_second(false).replication) {
    CHECK(pair.mode == dr::model::ReplicationMode::snapshot);
    CHECK(pair.interval_minutes == 1);
    CHECK(pair.target == pair.source);
  }
}

// ---- policy problems ----

TEST_CASE("a policy rule for a network the app does not have is an error", "[unit][mapping]") {
  const auto problems = generate_problems(
      app1(), policy_with([](MappingPolicy& p) { p.networks[1].source = "vswitch0.other"; }));
  CHECK(has(problems, "/policy/networks/1/source", "no source network 'vswitch0.other'"));
}

TEST_CASE("two policy rules for one network are an error", "[unit][mapping]") {
  const auto problems = generate_problems(
      app1(), policy_with([](MappingPolicy& p) { p.networks.push_back(p.networks[0]); }));
  CHECK(has(problems, "/policy/networks/2/source",
            "a second rule for source network 'vswitch0.app1-web' (the first is "
            "/policy/networks/0)"));
}

TEST_CASE("a subnet rule whose source is not one of the network's subnets is an error",
          "[unit][mapping]") {
  const auto problems = generate_problems(app1(), policy_with([](MappingPolicy& p) {
                                            p.networks[0].subnets[0].source = "192.168.20.0/24";
                                          }));
  CHECK(has(problems, "/policy/networks/0/subnets/0/source",
            "192.168.20.0/24 is not a subnet of source network 'vswitch0.app1-web'"));
}

TEST_CASE("two rules for one subnet are an error", "[unit][mapping]") {
  const auto problems =
      generate_problems(app1(), policy_with([](MappingPolicy& p) {
                          p.networks[0].subnets.push_back(p.networks[0].subnets[0]);
                        }));
  CHECK(has(problems, "/policy/networks/0/subnets/1/source", "a second rule for subnet"));
}

TEST_CASE("a subnet rule's gateway outside its cidr is an error", "[unit][mapping]") {
  const auto problems = generate_problems(app1(), policy_with([](MappingPolicy& p) {
                                            p.networks[0].subnets[0].gateway = "10.10.11.1";
                                          }));
  CHECK(has(problems, "/policy/networks/0/subnets/0/gateway",
            "gateway 10.10.11.1 is not in 10.10.10.0/24"));
}

TEST_CASE("a source gateway that does not fit the rule's subnet needs the rule's gateway",
          "[unit][mapping]") {
  auto first = app1();
  first.networks[0].subnets[0].gateway = "192.168.10.254";
  const auto problems = generate_problems(first, policy_with([](MappingPolicy& p) {
                                            p.networks[0].subnets[0].cidr = "10.10.10.0/25";
                                            p.networks[0].subnets[0].gateway.reset();
                                          }));
  CHECK(has(problems, "/policy/networks/0/subnets/0",
            "the source gateway 192.168.10.254 does not fit in 10.10.10.0/25"));
}

TEST_CASE("a pool rule given twice is an error", "[unit][mapping]") {
  const auto problems = generate_problems(app1(), policy_with([](MappingPolicy& p) {
                                            p.pools.push_back({"rbd", "rbd"});
                                            p.pools.push_back({"rbd", "rbd"});
                                          }));
  CHECK(has(problems, "/policy/pools/1/source",
            "a second rule for pool 'rbd' (the first is /policy/pools/0)"));
}

TEST_CASE("a pool rule that renames a pool is an error: RBD mirroring keeps pool names",
          "[unit][mapping]") {
  const auto problems = generate_problems(app1(), policy_with([](MappingPolicy& p) {
                                            p.pools.push_back({"rbd", "rbd-dr"});
                                          }));
  CHECK(has(problems, "/policy/pools/0/target",
            "RBD mirroring keeps pool names: images of pool 'rbd' replicate to pool 'rbd' at the "
            "DR site, never to 'rbd-dr'; remove this rule"));
}

TEST_CASE("spec percentages of 0 or less are errors", "[unit][mapping]") {
  const auto problems = generate_problems(app1(), policy_with([](MappingPolicy& p) {
                                            p.spec = {0, -5};
                                          }));
  CHECK(has(problems, "/policy/spec/memoryPercent", "must be greater than 0, found 0"));
  CHECK(has(problems, "/policy/spec/vcpusPercent", "must be greater than 0, found -5"));
}

TEST_CASE("a replication interval below one minute is an error", "[unit][mapping]") {
  const auto problems = generate_problems(
      app1(), policy_with([](MappingPolicy& p) { p.replication.interval_minutes = 0; }));
  CHECK(has(problems, "/policy/replication/intervalMinutes", "at least 1, found 0"));
}

TEST_CASE("every policy problem is reported at once, before the mapping runs", "[unit][mapping]") {
  const auto problems = generate_problems(app1(), policy_with([](MappingPolicy& p) {
                                            p.networks[1].source = "vswitch0.other";
                                            p.spec = {0, 0};
                                            p.pools.push_back({"rbd", "x"});
                                          }));
  CHECK(problems.size() == 4);
  CHECK(problems[0].pointer == "/policy/networks/1/source");
}

// ---- first-description problems ----

TEST_CASE("two source VMs with one id are an error: the mapping is keyed on ids",
          "[unit][mapping]") {
  auto first = app1();
  first.vms[2].id = first.vms[0].id;
  CHECK(has(generate_problems(first), "/vms/2/id", "duplicate vm id"));
}

TEST_CASE("two source networks with one id are an error", "[unit][mapping]") {
  auto first = app1();
  first.networks[1].id = first.networks[0].id;
  CHECK(has(generate_problems(first), "/networks/1/id",
            "duplicate network id 'vswitch0.app1-web' (also /networks/0)"));
}

TEST_CASE("a result that would not validate is refused with the validator's problems",
          "[unit][mapping]") {
  // The second description keeps the first's order, so these pointers name the input's NICs.
  auto first = app1();
  first.vms[1].nics[0].mac = first.vms[0].nics[0].mac;
  first.vms[1].nics[1].ip = first.vms[0].nics[1].ip;
  const auto problems = generate_problems(first);
  CHECK(has(problems, "/vms/1/nics/0/mac", "duplicate MAC 52:54:00:10:00:01 (also /vms/0/nics/0)"));
  CHECK(has(problems, "/vms/1/nics/1/ip", "duplicate address 192.168.20.11"));
}

TEST_CASE("generation against an inventory reports what the DR site lacks", "[unit][mapping]") {
  auto inventory = site_b();
  std::erase_if(inventory.pools, [](const auto& p) { return p.name == "rbd"; });
  const auto problems = generate_problems(app1(), MappingPolicy{}, &inventory);
  CHECK(has(problems, "/networks/0/switch", "switch 'vswitch0' does not exist at site-b"));
  CHECK(has(problems, "/vms/3/disks/1/pool", "pool 'rbd' does not exist at site-b"));
  CHECK(has(problems, "/replication/4/target/pool", "pool 'rbd' does not exist at site-b"));
}
