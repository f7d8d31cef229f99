// Capture of an app from a live libvirt (the test driver with the fixture production site).
#include "virt/capture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "model/json_io.hpp"
#include "virt/xml.hpp"
#include "virt_test_support.hpp"

using namespace dr::virt;
using dr::Errc;

namespace {

const std::string kCapturedAt = "2026-11-24T20:00:00Z";

CaptureOptions options(const SiteConfig& config) {
  return CaptureOptions{config.site, kCapturedAt, &config};
}

// Adds a domain of APP1 to the site, as production would have defined it.
void add_app1_domain(Hypervisor& hv, const std::string& devices,
                     const std::string& metadata_children = "",
                     const std::string& generation = "3") {
  const std::string xml =
      "<domain type='kvm'><name>app1-extra</name><uuid>6f1c2a9e-0005-4c1e-9a0b-000000000005</uuid>"
      "<metadata><drpair:app xmlns:drpair='urn:drpair:app:v1' id='app1' generation='" +
      generation + "'>" + metadata_children +
      "<drpair:network switch='vswitch0' portgroup='app1-web'/></drpair:app></metadata>"
      "<memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>" +
      devices + "</devices></domain>";
  auto def = parse_domain_xml(xml);
  REQUIRE(def);
  auto defined = hv.define_domain(*def);
  REQUIRE(defined);
}

std::string error_of(Hypervisor& hv, const SiteConfig& config, Errc expected) {
  auto r = capture(hv, "app1", options(config));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == expected);
  return r.error().message;
}

}  // namespace

TEST_CASE("capture of APP1 from the production fixture equals the APP1 first description",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-a");
  const SiteConfig config = testing::load_config("site-a");
  const auto captured = capture(*hv, "app1", options(config));
  REQUIRE(captured);
  const auto expected = testing::load_first("descriptions/app1.first.json");
  CHECK(dr::model::to_text(dr::model::to_json(*captured)) ==
        dr::model::to_text(dr::model::to_json(expected)));
  CHECK(*captured == expected);
}

TEST_CASE("capture without the site config takes subnets from the libvirt network",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-a");
  SiteConfig bare;
  bare.site = "site-a";
  const auto captured = capture(*hv, "app1", CaptureOptions{"site-a", kCapturedAt, &bare});
  REQUIRE(captured);
  // vswitch0 is a shared switch without <ip>: its portgroups have no subnets unless declared.
  for (const auto& n : captured->networks) CHECK(n.subnets.empty());
  CHECK(captured->app.captured_at == kCapturedAt);
  const auto now = capture(*hv, "app1", CaptureOptions{"site-a", std::nullopt, &bare});
  REQUIRE(now);
  REQUIRE(now->app.captured_at);
  CHECK(now->app.captured_at->size() == 20);
}

TEST_CASE("each domain's membership read from its metadata alone is the one in its definition",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-a");
  auto site = hv->list_members();
  REQUIRE(site);
  auto domains = hv->list_domains();
  REQUIRE(domains);
  REQUIRE(site->size() == domains->size());
  int members = 0;
  for (std::size_t i = 0; i < site->size(); ++i) {
    const auto& [status, membership] = (*site)[i];
    INFO(status.name);
    CHECK(status == (*domains)[i]);
    auto def = hv->get_domain(status.name);
    REQUIRE(def);
    CHECK(membership == def->membership);  // ops-jump: none in either
    members += membership ? 1 : 0;
  }
  CHECK(members == 4);
}

TEST_CASE("broken drpair metadata is invalid_argument naming the domain, for the scan and capture",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-a");
  const SiteConfig config = testing::load_config("site-a");
  // No app id: the metadata names no app, and nothing may silently skip the domain.
  DomainDef broken;
  broken.name = "broken";
  broken.uuid = "6f1c2a9e-0009-4c1e-9a0b-000000000009";
  broken.type = "test";
  broken.memory_mib = 64;
  broken.membership = Membership{};
  REQUIRE(hv->define_domain(broken));
  auto membership = hv->list_members();
  REQUIRE_FALSE(membership);
  CHECK(membership.error().code == Errc::invalid_argument);
  CHECK(membership.error().message ==
        "domain 'broken': drpair metadata: drpair:app without an id");
  CHECK(error_of(*hv, config, Errc::invalid_argument) == membership.error().message);
}

TEST_CASE("capture of an unknown app is not_found", "[integration][libvirt]") {
  auto hv = testing::open_site("site-a");
  const auto r = capture(*hv, "app9", CaptureOptions{"site-a", kCapturedAt, nullptr});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::not_found);
  CHECK(r.error().message.find("app9") != std::string::npos);
}

TEST_CASE("capture names a disk that is not RBD as unprotectable", "[integration][libvirt]") {
  auto hv = testing::open_site("site-a");
  const SiteConfig config = testing::load_config("site-a");
  add_app1_domain(*hv,
                  "<disk type='file' device='disk'><source file='/var/lib/extra.qcow2'/>"
                  "<target dev='vdc' bus='virtio'/></disk>");
  const std::string m = error_of(*hv, config, Errc::failed_precondition);
  CHECK(m.find("app1-extra") != std::string::npos);
  CHECK(m.find("disk 'vdc'") != std::string::npos);
  CHECK(m.find("/var/lib/extra.qcow2") != std::string::npos);
}

TEST_CASE("capture of a NIC on a network that does not exist is not_found naming it",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-a");
  const SiteConfig config = testing::load_config("site-a");
  SECTION("a missing libvirt network") {
    add_app1_domain(*hv,
                    "<interface type='network'><mac address='52:54:00:50:00:01'/>"
                    "<source network='gone'/></interface>",
                    "<drpair:network switch='gone'/>");
    const std::string m = error_of(*hv, config, Errc::not_found);
    CHECK(m.find("network 'gone'") != std::string::npos);
    CHECK(m.find("52:54:00:50:00:01") != std::string::npos);
  }
  SECTION("a missing portgroup") {
    add_app1_domain(*hv,
                    "<interface type='network'><mac address='52:54:00:50:00:01'/>"
                    "<source network='vswitch0' portgroup='app1-gone'/></interface>",
                    "<drpair:network switch='vswitch0' portgroup='app1-gone'/>");
    const std::string m = error_of(*hv, config, Errc::not_found);
    CHECK(m.find("portgroup 'app1-gone'") != std::string::npos);
  }
  SECTION("a declared network that does not exist") {
    add_app1_domain(*hv, "", "<drpair:network switch='vswitch9' portgroup='x'/>");
    const std::string m = error_of(*hv, config, Errc::not_found);
    CHECK(m.find("network 'vswitch9'") != std::string::npos);
  }
}

TEST_CASE("capture of a NIC on a network the app does not declare is an error naming it",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-a");
  const SiteConfig config = testing::load_config("site-a");
  add_app1_domain(*hv,
                  "<interface type='network'><mac address='52:54:00:50:00:01'/>"
                  "<source network='vswitch0' portgroup='ops'/></interface>");
  const std::string m = error_of(*hv, config, Errc::failed_precondition);
  CHECK(m.find("portgroup 'ops'") != std::string::npos);
  CHECK(m.find("does not declare") != std::string::npos);
}

TEST_CASE("capture of a bridge NIC without a declared address is an error; with one it is "
          "address-only",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-a");
  const SiteConfig config = testing::load_config("site-a");
  const std::string nic =
      "<interface type='bridge'><mac address='52:54:00:50:00:09'/><source bridge='br-x'/>"
      "</interface>";
  SECTION("without") {
    add_app1_domain(*hv, nic);
    const std::string m = error_of(*hv, config, Errc::failed_precondition);
    CHECK(m.find("52:54:00:50:00:09") != std::string::npos);
    CHECK(m.find("bridge 'br-x'") != std::string::npos);
  }
  SECTION("with") {
    add_app1_domain(*hv, nic, "<drpair:nic mac='52:54:00:50:00:09' ip='192.168.20.99'/>");
    const auto r = capture(*hv, "app1", options(config));
    REQUIRE(r);
    const auto& vm = r->vms.back();
    CHECK(vm.name == "app1-extra");
    REQUIRE(vm.nics.size() == 1);
    CHECK(vm.nics[0] == dr::model::SourceNic{"52:54:00:50:00:09", std::nullopt, "192.168.20.99"});
  }
}

TEST_CASE("capture refuses domains of one app that disagree on the generation",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-a");
  const SiteConfig config = testing::load_config("site-a");
  add_app1_domain(*hv, "", "", "4");
  const std::string m = error_of(*hv, config, Errc::failed_precondition);
  CHECK(m.find("generation") != std::string::npos);
  CHECK(m.find("app1-extra") != std::string::npos);
}
