// `drpair site ...` as an operator runs it: the real binary on the test driver's fixture sites.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/process.hpp"
#include "virt_test_support.hpp"

using dr::testing::run_process;
using dr::virt::testing::fixture;
using dr::virt::testing::slurp;
using json = nlohmann::json;

namespace {

std::string site(const std::string& name) { return "test://" + fixture("libvirt/" + name + ".xml"); }

}  // namespace

TEST_CASE("drpair site capture prints the APP1 first description", "[integration][libvirt]") {
  const auto r = run_process({DRPAIR_BIN, "site", "capture", "--libvirt", site("site-a"), "--app",
                              "app1", "--config", fixture("libvirt/site-a.json"), "--captured-at",
                              "2026-11-24T20:00:00Z"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out) == json::parse(slurp(fixture("descriptions/app1.first.json"))));
}

TEST_CASE("drpair site capture of an app with an unprotectable part exits 1",
          "[integration][libvirt]") {
  const auto r = run_process(
      {DRPAIR_BIN, "site", "capture", "--libvirt", site("site-a"), "--app", "nope"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("not_found") != std::string::npos);
}

TEST_CASE("drpair site restore reports what libvirt now runs", "[integration][libvirt]") {
  const auto r = run_process({DRPAIR_BIN, "site", "restore", "--libvirt", site("site-b"),
                              "--second", fixture("golden/app1.second.json"), "--config",
                              fixture("libvirt/site-b.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto report = json::parse(r.out);
  CHECK(report["app"] == "app1");
  REQUIRE(report["vms"].size() == 4);
  for (const auto& vm : report["vms"]) CHECK(vm["state"] == "running");
  CHECK(report["vms"][0]["nics"][0] ==
        json({{"mac", "52:54:00:10:00:01"}, {"switch", "vswitch0"}, {"portgroup", "app1-web"}}));
  CHECK(report["networks"][1] == json({{"id", "vswitch0.app1-app"}, {"switch", "vswitch0"},
                                       {"portgroup", "app1-app"}, {"vlan", 102}}));
  CHECK(report["steps"].size() > 10);
  CHECK(report["steps"][0].contains("ms"));
}

TEST_CASE("drpair site restore exits 1 naming the failed step", "[integration][libvirt]") {
  // site-a holds APP1's own production domains: never overwritten.
  const auto r = run_process({DRPAIR_BIN, "site", "restore", "--libvirt", site("site-a"),
                              "--second", fixture("golden/app1.second.json")});
  CHECK(r.exit_code == 1);
  const auto report = json::parse(r.out);
  CHECK(report["failed"]["step"] == "define-domain:app1-web1");
  CHECK(report["failed"]["code"] == "already_exists");
}

TEST_CASE("drpair site restore exits 2 for unreadable input", "[integration][libvirt]") {
  CHECK(run_process({DRPAIR_BIN, "site", "restore", "--libvirt", site("site-b"), "--second",
                     "/nonexistent.json"})
            .exit_code == 2);
  const auto bad = run_process({DRPAIR_BIN, "site", "restore", "--libvirt", site("site-b"),
                                "--second", fixture("golden/app1.second.json"), "--config",
                                fixture("descriptions/app1.first.json")});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("/apiVersion") == std::string::npos);
  CHECK(bad.err.find("unknown key") != std::string::npos);
  CHECK(run_process({DRPAIR_BIN, "site", "restore", "--libvirt", site("site-b")}).exit_code == 2);
}

TEST_CASE("drpair site inventory and teardown", "[integration][libvirt]") {
  const auto inv = run_process({DRPAIR_BIN, "site", "inventory", "--libvirt", site("site-a"),
                                "--config", fixture("libvirt/site-a.json")});
  INFO(inv.err);
  REQUIRE(inv.exit_code == 0);
  const auto doc = json::parse(inv.out);
  CHECK(doc["kind"] == "Inventory");
  CHECK(doc["site"] == "site-a");
  CHECK(doc["domains"].size() == 5);
  const auto tear = run_process(
      {DRPAIR_BIN, "site", "teardown", "--libvirt", site("site-a"), "--app", "app1"});
  REQUIRE(tear.exit_code == 0);
  // Production's own domains were not made by a restore: teardown leaves them.
  CHECK(json::parse(tear.out)["domains"].empty());
}
