// The site config reader: strict, every problem with its JSON Pointer.
#include "virt/site_config.hpp"

#include <catch2/catch.hpp>

#include "virt_test_support.hpp"

using namespace dr::virt;

namespace {

bool has_problem(const dr::model::Problems& problems, const std::string& pointer,
                 const std::string& part) {
  for (const auto& p : problems) {
    if (p.pointer == pointer && p.message.find(part) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("the fixture site configs read completely", "[integration][libvirt]") {
  const SiteConfig b = testing::load_config("site-b");
  CHECK(b.site == "site-b");
  REQUIRE(b.ceph.monitors.size() == 2);
  CHECK(b.ceph.monitors[1] == RbdMonitor{"10.1.0.2", std::nullopt});
  CHECK(b.ceph.client_conf == "/etc/ceph/site-b-client.conf");
  CHECK(b.domain_type == "test");
  CHECK_FALSE(b.create_networks);
  CHECK(b.start_timeout_seconds == 30);
  REQUIRE(declared_portgroup(b, "vswitch0", "app1-web") != nullptr);
  CHECK(declared_portgroup(b, "vswitch0", "nope") == nullptr);
  REQUIRE(b.drill_switch);
  CHECK(*b.drill_switch == NetworkTemplate{"drill0", SwitchKind::openvswitch, "drillbr0"});
  CHECK_FALSE(testing::load_config("site-a").drill_switch);
}

TEST_CASE("the drill switch: a network, its bridge (default: the network) and kind",
          "[integration][libvirt]") {
  const std::string head = R"({"apiVersion": "drpair/v1", "kind": "SiteConfig", "site": "b", )";
  auto plain = parse_site_config(head + R"("drill": {"network": "drill0"}})");
  REQUIRE(plain);
  CHECK(*plain->drill_switch == NetworkTemplate{"drill0", SwitchKind::openvswitch, "drill0"});
  auto isolated =
      parse_site_config(head + R"("drill": {"network": "d", "kind": "isolated", "bridge": "x"}})");
  REQUIRE(isolated);
  CHECK(*isolated->drill_switch == NetworkTemplate{"d", SwitchKind::isolated, "x"});
  auto bad = parse_site_config(head + R"("drill": {"kind": "linux", "uplink": "eth0"}})");
  REQUIRE_FALSE(bad);
  CHECK(has_problem(bad.error(), "/drill", "missing required field 'network'"));
  CHECK(has_problem(bad.error(), "/drill/kind", "openvswitch"));
  CHECK(has_problem(bad.error(), "/drill/uplink", "unknown key"));
}

TEST_CASE("site config problems are reported with JSON pointers, all at once",
          "[integration][libvirt]") {
  const auto r = parse_site_config(R"({"apiVersion": "drpair/v1", "kind": "SiteConfig",
    "ceph": {"monitors": [{"host": "m", "port": 70000}], "user": "client.libvirt",
             "secretUuid": "nope", "clientConf": "relative.conf"},
    "domainType": "xen", "networks": {"create": "yes", "templates": [{"kind": "linux"}]},
    "portgroups": [{"switch": "s", "portgroup": "p", "subnets": [{"cidr": "10.0.0.1/24"}]},
                   {"switch": "s", "portgroup": "p", "subnets": []}],
    "restore": {"parallelism": 0}, "colour": "blue"})");
  REQUIRE_FALSE(r);
  const auto& p = r.error();
  CHECK(has_problem(p, "", "missing required field 'site'"));
  CHECK(has_problem(p, "/ceph/monitors/0/port", "between 1 and 65535"));
  CHECK(has_problem(p, "/ceph/user", "without 'client.'"));
  CHECK(has_problem(p, "/ceph/secretUuid", "not a UUID"));
  CHECK(has_problem(p, "/ceph/clientConf", "absolute"));
  CHECK(has_problem(p, "/domainType", "kvm"));
  CHECK(has_problem(p, "/networks/create", "expected a boolean"));
  CHECK(has_problem(p, "/networks/templates/0/kind", "openvswitch"));
  CHECK(has_problem(p, "/portgroups/0/subnets/0/cidr", "host bits"));
  CHECK(has_problem(p, "/portgroups/1", "declared twice"));
  CHECK(has_problem(p, "/restore/parallelism", "between 1 and 64"));
  CHECK(has_problem(p, "/colour", "unknown key"));
}

TEST_CASE("consoleLogDir is an absolute folder, unset by default", "[integration][libvirt]") {
  const std::string head = R"({"apiVersion": "drpair/v1", "kind": "SiteConfig", "site": "s")";
  const auto unset = parse_site_config(head + "}");
  REQUIRE(unset);
  CHECK(unset->console_log_dir == std::nullopt);

  const auto set = parse_site_config(head + R"(, "consoleLogDir": "/var/log/drpair/console/"})");
  REQUIRE(set);
  CHECK(set->console_log_dir == "/var/log/drpair/console");

  const auto relative = parse_site_config(head + R"(, "consoleLogDir": "logs/console"})");
  REQUIRE_FALSE(relative);
  CHECK(has_problem(relative.error(), "/consoleLogDir", "absolute"));
  const auto empty = parse_site_config(head + R"(, "consoleLogDir": ""})");
  REQUIRE_FALSE(empty);
  CHECK(has_problem(empty.error(), "/consoleLogDir", "must not be empty"));
}

TEST_CASE("a site config that is not JSON is one problem at the document",
          "[integration][libvirt]") {
  const auto r = parse_site_config("{");
  REQUIRE_FALSE(r);
  CHECK(r.error().size() == 1);
  CHECK(r.error()[0].pointer.empty());
}
