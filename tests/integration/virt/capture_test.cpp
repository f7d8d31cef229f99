// Capture of an app from a live libvirt (the test driver with the fixture production site).
#include "virt/capture.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "model/json_io.hpp"
#include "virt/inventory.hpp"
#include "virt/xml.hpp"
#include "virt_test_support.hpp"

using namespace dr::virt;
using dr::Errc;

namespace {

const std::string kCapturedAt = "2026-11-24T20:00:00Z";

CaptureOptions options(const SiteConfig& config) {
  return CaptureOptions{config.site, kCapturedAt, &config, {}};
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
  const auto captured =
      capture(*hv, "app1", CaptureOptions{"site-a", kCapturedAt, &bare, {}});
  REQUIRE(captured);
  // vswitch0 is a shared switch without <ip>: its portgroups have no subnets unless declared.
  for (const auto& n : captured->networks) CHECK(n.subnets.empty());
  CHECK(captured->app.captured_at == kCapturedAt);
  const auto now = capture(*hv, "app1", CaptureOptions{"site-a", std::nullopt, &bare, {}});
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
    const auto& [status, membership, broken] = (*site)[i];
    INFO(status.name);
    CHECK(status == (*domains)[i]);
    auto def = hv->get_domain(status.name);
    REQUIRE(def);
    CHECK(membership == def->membership);  // ops-jump: none in either
    members += membership ? 1 : 0;
  }
  CHECK(members == 4);
}

TEST_CASE("broken drpair metadata: nobody's domain, an error only for the app it names",
          "[integration][libvirt]") {
  auto hv = testing::open_site("site-a");
  const SiteConfig config = testing::load_config("site-a");
  // No app id: the metadata names no app.
  DomainDef broken;
  broken.name = "broken";
  broken.uuid = "6f1c2a9e-0009-4c1e-9a0b-000000000009";
  broken.type = "test";
  broken.memory_mib = 64;
  broken.membership = Membership{};
  REQUIRE(hv->define_domain(broken));
  auto members = hv->list_members();
  REQUIRE(members);
  const auto it = std::find_if(members->begin(), members->end(),
                               [](const DomainMember& m) { return m.status.name == "broken"; });
  REQUIRE(it != members->end());
  CHECK_FALSE(it->membership);
  REQUIRE(it->broken);
  CHECK(it->broken->message == "domain 'broken': drpair metadata: drpair:app without an id");
  CHECK_FALSE(it->broken->app_id);
  // Another app's capture goes on, and is told.
  std::vector<std::string> warnings;
  auto opts = options(config);
  opts.warn = [&](std::string_view w) { warnings.emplace_back(w); };
  REQUIRE(capture(*hv, "app1", opts));
  CHECK(warnings == std::vector<std::string>{
                        "domain 'broken': drpair metadata: drpair:app without an id; skipped: it "
                        "names no app"});
  // The site's inventory too (the domain, of no app).
  auto inv = inventory(*hv, "site-a", &config);
  REQUIRE(inv);
  // A domain whose broken metadata names the app stops that app's capture, named once.
  auto odd = testing::open_site("fidelity");
  const auto stopped =
      capture(*odd, "late", CaptureOptions{"site-a", kCapturedAt, nullptr, {}});
  REQUIRE_FALSE(stopped);
  CHECK(stopped.error().code == Errc::invalid_argument);
  CHECK(stopped.error().message ==
        "domain 'late-vm1': drpair metadata: drpair:app generation 'soon'");
}

TEST_CASE("capture of an unknown app is not_found", "[integration][libvirt]") {
  auto hv = testing::open_site("site-a");
  const auto r = capture(*hv, "app9", CaptureOptions{"site-a", kCapturedAt, nullptr, {}});
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
    CHECK(vm.nics[0] == dr::model::SourceNic{"52:54:00:50:00:09", std::nullopt, "192.168.20.99", std::nullopt});
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

TEST_CASE("capture refuses what drpair cannot carry, naming each VM and device, all at once",
          "[integration][libvirt]") {
  auto hv = testing::open_site("fidelity");
  const auto r = capture(*hv, "odd", CaptureOptions{"site-a", kCapturedAt, nullptr, {}});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::failed_precondition);
  const std::string& m = r.error().message;
  INFO(m);
  CHECK(m.starts_with("app 'odd' cannot be protected as it is: "));
  for (const std::string part : {
           "domain 'odd-vm1': memory 1048577 KiB is not a whole number of MiB (what drpair/v1 "
           "carries); give it 1024 or 1025 MiB",
           "domain 'odd-vm1': disk 'vda' (rbd rbd/odd-root): it opens the image at RBD snapshot "
           "'golden' (a snapshot is not replicated as a disk)",
           "domain 'odd-vm1': disk 'vdc' (rbd rbd/odd-secret): it is encrypted (<encryption "
           "format='luks'>): the DR site would need its secret",
           "domain 'odd-vm1': disk 'vdd' (rbd rbd/odd-qcow): its driver type is 'qcow2' (an RBD "
           "disk drpair restores is raw)",
           "domain 'odd-vm1': disk 'vde' (file /var/lib/libvirt/images/odd-scratch.img) is not an "
           "RBD disk and cannot be protected",
           "domain 'odd-vm1': 2 NICs share MAC 52:54:00:f1:00:04 (drpair names a NIC by its MAC, "
           "and carries no failover <teaming>, which pairs NICs so): give each its own",
           "domain 'odd-vm1': NIC 52:54:00:f1:00:02 has a VLAN of its own (VLAN tag 42): drpair "
           "carries the VLAN of the NIC's network or portgroup; move the VLAN there",
           // The same NIC's portgroup: named in the same error.
           "network 'trunks' portgroup 'native' (used by domain 'odd-vm1': NIC 52:54:00:f1:00:02) "
           "carries a VLAN trunk (tags 30, 31)",
           "domain 'odd-vm1': only 1 of its 2 vCPUs are online (<vcpu current='1'>), and "
           "drpair/v1 carries one vCPU count: make them equal",
           "domain 'odd-vm1': host device <hostdev type='pci' 0x0000:0x06:0x12:0x5> is passed "
           "through (the DR site's hosts do not have it)",
           "domain 'odd-vm1': disk 'vdf' (rbd rbd/odd-shared): it is read-only (<readonly/>), "
           "and drpair restores writable disks",
           "domain 'odd-vm1': disk 'sdb' (rbd rbd/odd-iso): it is a cdrom (drpair carries "
           "writable disks)",
           "domain 'odd-vm1': disk 'ubdc' (rbd rbd/odd-uml) is on bus 'uml', which drpair does "
           "not carry (virtio, scsi, sata, ide, usb, xen, sd)",
           "domain 'odd-vm1': disk 'vdg' (nvme pci) is not an RBD disk and cannot be protected",
           "domain 'odd-vm1': disk 'vdh' (volume 'odd-vol' of libvirt storage pool 'ceph-rbd': "
           "for an RBD image use the network form, <source protocol='rbd' name='POOL/IMAGE'>) is "
           "not an RBD disk and cannot be protected",
           "domain 'odd-vm2': disk 'vda' (rbd rbd/odd-shared) is also domain 'odd-vm1': disk "
           "'vdf': drpair/v1 describes no shared disks",
           "domain 'odd-vm2': disk 'vda' (rbd rbd/odd-shared): it is shareable (<shareable/>), and "
           "drpair/v1 describes no shared disks",
           "domain 'odd-vm2': disk 'vdb' (rbd rbd/odd-legacy@gold): its name "
           "'rbd/odd-legacy@gold' opens RBD snapshot 'gold' in the legacy spelling (a snapshot is "
           "not replicated as a disk)",
           "domain 'odd-vm2': disk 'vdc' (rbd rbd/odd-opts:rbd_cache=1): its name "
           "'rbd/odd-opts:rbd_cache=1' carries options in QEMU's legacy spelling ('rbd_cache=1'): "
           "name the image alone, options go in the domain XML",
           "network 'trunks' portgroup 'trunk' (used by domain 'odd-vm1': NIC 52:54:00:f1:00:01) "
           "carries a VLAN trunk (tags 10, 20): drpair maps one VLAN per network",
           "network 'dual' (used by domain 'odd-vm1': NIC 52:54:00:f1:00:03) has IPv6 subnet "
           "fd00:150::1/64: drpair/v1 carries IPv4 subnets only"}) {
    CHECK(m.find(part) != std::string::npos);
  }
  // An image in an RBD namespace is carried (the capture of app 'plain' shows it).
  CHECK(m.find("odd-data") == std::string::npos);
  // A CD-ROM is named once (libvirt makes it read-only too: that is not a second reason).
  CHECK(m.find("disk 'sdb'") == m.rfind("disk 'sdb'"));
}

TEST_CASE("capture carries a NIC on a network's default portgroup there, and asks for no lease "
          "on a network without <ip>",
          "[integration][libvirt]") {
  auto hv = testing::open_site("fidelity");
  auto status = hv->domain_status("plain-vm1");
  REQUIRE(status);
  REQUIRE(status->state == DomainState::running);  // where leases would be asked for
  std::vector<std::string> warnings;
  const auto r = capture(*hv, "plain", CaptureOptions{"site-a", kCapturedAt, nullptr, [&](auto w) {
                           warnings.emplace_back(w);
                         }});
  REQUIRE(r);
  // Host-specific tuning is not carried, and said so; the other apps' troubles are warned too.
  CHECK(std::count(warnings.begin(), warnings.end(),
                   "domain 'plain-vm1': <cputune> not carried: host-specific, the DR site's hosts "
                   "apply their defaults") == 1);
  REQUIRE(r->networks.size() == 1);
  CHECK(r->networks[0].switch_name == "trunks");
  CHECK(r->networks[0].portgroup == "tagged");
  CHECK(r->networks[0].vlan == 201);
  REQUIRE(r->vms.size() == 1);
  CHECK(r->vms[0].spec.memory_mib == 512);
  // A disk keeps its bus (virtio is the default, left out) and its image's RBD namespace.
  REQUIRE(r->vms[0].disks.size() == 2);
  CHECK_FALSE(r->vms[0].disks[0].bus);
  CHECK(r->vms[0].disks[0].rbd_namespace.empty());
  CHECK(r->vms[0].disks[1].bus == "sata");
  CHECK(r->vms[0].disks[1].pool == "rbd");
  CHECK(r->vms[0].disks[1].rbd_namespace == "tenant1");
  CHECK(r->vms[0].disks[1].image == "plain-data");
  REQUIRE(r->vms[0].nics.size() == 1);
  CHECK(r->vms[0].nics[0].network == r->networks[0].id);
  CHECK(r->vms[0].nics[0].model == "e1000e");
  CHECK_FALSE(r->vms[0].nics[0].ip);
}

