// libvirt XML <-> value types: pure functions, no connection.
#include "virt/xml.hpp"

#include <catch2/catch.hpp>

using namespace dr::virt;

namespace {

DomainDef sample() {
  DomainDef d;
  d.name = "app1-db1";
  d.uuid = "6f1c2a9e-0004-4c1e-9a0b-000000000004";
  d.type = "qemu";
  d.vcpus = 4;
  d.memory_mib = 8192;
  DiskDef disk;
  disk.target = "vda";
  disk.rbd = true;
  disk.pool = "rbd";
  disk.image = "app1-db1-root";
  disk.monitors = {{"10.1.0.1", 6789}, {"10.1.0.2", std::nullopt}};
  disk.auth_user = "libvirt";
  disk.secret_uuid = "5e1b0000-0000-4000-8000-0000000000c1";
  disk.config_file = "/etc/ceph/site-b-client.conf";
  d.disks.push_back(disk);
  disk.target = "vdb";
  disk.rbd_namespace = "tenant1";
  disk.image = "app1-db1-data";
  d.disks.push_back(disk);
  NicDef nic;
  nic.mac = "52:54:00:30:00:01";
  nic.network = "vswitch0";
  nic.portgroup = "app1-db";
  d.nics.push_back(nic);
  Membership m;
  m.app_id = "app1";
  m.app_name = "APP1 & <co>";
  m.generation = 3;
  m.boot_order = 1;
  m.source_site = "site-a";
  m.source_vm = d.uuid;
  m.nics.push_back({"52:54:00:30:00:01", "192.168.30.31"});
  DeclaredNetwork net;
  net.id = "vswitch0.app1-db";
  net.switch_name = "vswitch0";
  net.portgroup = "app1-db";
  net.vlan = 103;
  net.created = "portgroup";
  net.subnets.push_back({"192.168.30.0/24", std::string("192.168.30.1")});
  m.networks.push_back(net);
  d.membership = m;
  return d;
}

}  // namespace

TEST_CASE("a generated domain reads back as the same definition", "[integration][libvirt]") {
  const DomainDef d = sample();
  const auto back = parse_domain_xml(domain_xml(d));
  REQUIRE(back);
  CHECK(*back == d);
}

TEST_CASE("generated domain XML carries the RBD source, cephx secret and NIC ROM off",
          "[integration][libvirt]") {
  const std::string xml = domain_xml(sample());
  CHECK(xml.find("<source protocol='rbd' name='rbd/app1-db1-root'><host name='10.1.0.1' "
                 "port='6789'/><host name='10.1.0.2'/><config "
                 "file='/etc/ceph/site-b-client.conf'/></source>") != std::string::npos);
  CHECK(xml.find("<source protocol='rbd' name='rbd/tenant1/app1-db1-data'>") != std::string::npos);
  CHECK(xml.find("<auth username='libvirt'><secret type='ceph' "
                 "uuid='5e1b0000-0000-4000-8000-0000000000c1'/></auth>") != std::string::npos);
  CHECK(xml.find("<source network='vswitch0' portgroup='app1-db'/>") != std::string::npos);
  CHECK(xml.find("<rom enabled='no'/>") != std::string::npos);
  CHECK(xml.find("APP1 &amp; &lt;co&gt;") != std::string::npos);
}

TEST_CASE("a domain with a serial console log reads back with it", "[integration][libvirt]") {
  DomainDef d = sample();
  d.serial_log = "/var/log/drpair/console/app1-db1 & co.log";
  const std::string xml = domain_xml(d);
  CHECK(xml.find("<serial type='file'><source path='/var/log/drpair/console/app1-db1 &amp; "
                 "co.log' append='off'/><target port='0'/></serial>") != std::string::npos);
  const auto back = parse_domain_xml(xml);
  REQUIRE(back);
  CHECK(back->serial_log == d.serial_log);
  CHECK(*back == d);
  CHECK(domain_xml(sample()).find("<serial") == std::string::npos);
}

TEST_CASE("the serial log is read from a file serial or from a pty serial's <log>",
          "[integration][libvirt]") {
  const auto read = [](const std::string& devices) {
    const std::string xml =
        "<domain type='kvm'><name>x</name><memory>1024</memory><devices>" + devices + "</devices>";
    const auto d = parse_domain_xml(xml + "</domain>");
    REQUIRE(d);
    return d->serial_log;
  };
  // As libvirt 9.0 shows a file serial: with the <console> it adds as serial 0's alias.
  CHECK(read("<serial type='file'><source path='/l/a.log' append='off'/><target type='isa-serial' "
             "port='0'><model name='isa-serial'/></target></serial><console type='file'><source "
             "path='/l/a.log' append='off'/><target type='serial' port='0'/></console>") ==
        "/l/a.log");
  CHECK(read("<serial type='pty'><source path='/dev/pts/3'/><log file='/l/b.log' append='on'/>"
             "<target port='0'/></serial>") == "/l/b.log");
  CHECK(read("<serial type='pty'><target port='0'/></serial>"
             "<serial type='file'><source path='/l/c.log'/><target port='1'/></serial>") ==
        "/l/c.log");
  CHECK(read("<serial type='pty'><target port='0'/></serial>") == std::nullopt);
  CHECK(read("<console type='pty'><target type='virtio' port='0'/></console>") == std::nullopt);
}

TEST_CASE("domain XML units and disks other than RBD are read", "[integration][libvirt]") {
  const auto d = parse_domain_xml(R"(<domain type='kvm'><name>x</name><uuid>u</uuid>
    <memory unit='KiB'>2097152</memory><vcpu placement='static'>3</vcpu><devices>
    <disk type='file' device='disk'><source file='/var/lib/x.qcow2'/><target dev='vdb'/></disk>
    <disk type='file' device='cdrom'><target dev='sda'/></disk>
    <interface type='bridge'><mac address='52:54:00:AA:00:01'/><source bridge='br0'/></interface>
    </devices></domain>)");
  REQUIRE(d);
  CHECK(d->memory_mib == 2048);
  CHECK(d->vcpus == 3);
  REQUIRE(d->disks.size() == 2);
  CHECK_FALSE(d->disks[0].rbd);
  CHECK(d->disks[0].other_source == "file /var/lib/x.qcow2");
  CHECK(d->disks[1].other_source.empty());
  REQUIRE(d->nics.size() == 1);
  CHECK(d->nics[0].kind == NicKind::bridge);
  CHECK(d->nics[0].mac == "52:54:00:aa:00:01");
  CHECK_FALSE(d->membership);
}

TEST_CASE("malformed XML is invalid_argument; broken metadata makes the domain nobody's",
          "[integration][libvirt]") {
  CHECK(parse_domain_xml("<domain").error().code == dr::Errc::invalid_argument);
  const auto bad = parse_domain_xml(
      R"(<domain><name>x</name><memory>1024</memory><metadata>
         <drpair:app xmlns:drpair="urn:drpair:app:v1" generation="1"/></metadata></domain>)");
  REQUIRE(bad);
  CHECK_FALSE(bad->membership);
  CHECK(bad->broken_membership ==
        BrokenMembership{std::nullopt, "domain 'x': drpair metadata: drpair:app without an id"});
  const auto named = parse_domain_xml(
      R"(<domain><name>y</name><memory>1024</memory><metadata>
         <drpair:app xmlns:drpair="urn:drpair:app:v1" id="a" boot-order="-1"/></metadata></domain>)");
  REQUIRE(named);
  REQUIRE(named->broken_membership);
  CHECK(named->broken_membership->app_id == "a");
}

TEST_CASE("a document with another root element is refused, naming the root it needs",
          "[integration][libvirt]") {
  const auto domain = parse_domain_xml("<network><name>x</name></network>");
  REQUIRE_FALSE(domain);
  CHECK(domain.error().code == dr::Errc::invalid_argument);
  CHECK(domain.error().message == "domain XML: no <domain> root");
  const auto network = parse_network_xml("<domain><name>x</name></domain>");
  REQUIRE_FALSE(network);
  CHECK(network.error().message == "network XML: no <network> root");
  const auto pool = parse_pool_xml("<network/>");
  REQUIRE_FALSE(pool);
  CHECK(pool.error().message == "storage pool XML: no <pool> root");
  CHECK(parse_pool_xml("<pool").error().message.find("storage pool XML is not well-formed") == 0);
}

TEST_CASE("network XML: portgroups, VLANs, netmask and prefix", "[integration][libvirt]") {
  const auto n = parse_network_xml(R"(<network><name>sw</name><forward mode='bridge'/>
    <bridge name='br0'/><virtualport type='openvswitch'/>
    <ip address='10.0.0.1' netmask='255.255.0.0'/><ip address='10.1.0.1' prefix='24'/>
    <portgroup name='a' default='yes'><vlan><tag id='7'/></vlan></portgroup>
    <portgroup name='b'/></network>)");
  REQUIRE(n);
  CHECK(n->virtualport == "openvswitch");
  REQUIRE(n->ips.size() == 2);
  CHECK(n->ips[0].prefix == 16);
  CHECK(n->ips[1].prefix == 24);
  REQUIRE(n->portgroups.size() == 2);
  CHECK(n->portgroups[0] == PortgroupDef{"a", 7, true, {}});
  CHECK(n->portgroups[1] == PortgroupDef{"b", std::nullopt, false, {}});
  const auto again = parse_network_xml(network_xml(*n));
  REQUIRE(again);
  CHECK(*again == *n);
}

TEST_CASE("disks and NICs added to a domain's XML leave everything else as it was",
          "[integration][libvirt]") {
  // A bridge NIC on an Open vSwitch bridge: the model keeps no <virtualport>, libvirt needs it.
  const std::string xml =
      "<domain type='qemu'>\n  <name>app1-app1</name>\n  <memory unit='KiB'>65536</memory>\n  "
      "<vcpu>1</vcpu>\n  <devices>\n"
      "    <interface type='bridge'><mac address='52:54:00:20:00:02'/>"
      "<source bridge='ovs-lab-a'/><virtualport type='openvswitch'/></interface>\n"
      "  </devices>\n</domain>\n";
  DiskDef disk = sample().disks.front();
  disk.image = "app1-app1-extra";
  disk.target = "vdc";
  NicDef nic;
  nic.mac = "52:54:00:99:00:01";
  nic.network = "vswitch0";
  nic.portgroup = "app1-db";
  auto added = with_devices(xml, {disk}, {nic});
  REQUIRE(added);
  CHECK(added->find("<virtualport type='openvswitch'/>") != std::string::npos);
  CHECK(added->find("name='rbd/app1-app1-extra'") < added->find("</devices>"));
  auto parsed = parse_domain_xml(*added);
  REQUIRE(parsed);
  REQUIRE(parsed->disks.size() == 1);
  CHECK(parsed->disks[0].target == "vdc");
  CHECK(parsed->disks[0].image == "app1-app1-extra");
  REQUIRE(parsed->nics.size() == 2);
  CHECK(parsed->nics[1].mac == "52:54:00:99:00:01");
  CHECK(parsed->nics[1].network == "vswitch0");
  CHECK(parsed->nics[1].portgroup == std::optional<std::string>("app1-db"));

  auto refused = with_devices("<domain><name>x</name></domain>", {disk}, {});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == dr::Errc::invalid_argument);
}

TEST_CASE("network XML: VLAN trunks, native VLANs and IPv6 subnets are read as what drpair cannot "
          "carry",
          "[integration][libvirt]") {
  auto n = parse_network_xml(
      "<network><name>n</name><vlan trunk='yes'><tag id='5'/><tag id='6'/></vlan>"
      "<ip address='10.9.0.1' prefix='24'/><ip family='ipv6' address='fd00::1' prefix='48'/>"
      "<portgroup name='a'><vlan><tag id='7'/></vlan></portgroup>"
      "<portgroup name='b'><vlan trunk='yes'><tag id='8' nativeMode='tagged'/></vlan></portgroup>"
      "<portgroup name='c'><vlan><tag id='9' nativeMode='untagged'/></vlan></portgroup>"
      "</network>");
  REQUIRE(n);
  CHECK(n->uncarried_vlan == "a VLAN trunk (tags 5, 6)");
  CHECK(n->ips.size() == 1);
  CHECK(n->ipv6 == std::vector<std::string>{"fd00::1/48"});
  REQUIRE(n->portgroups.size() == 3);
  CHECK_FALSE(n->portgroups[0].uncarried_vlan);
  CHECK(n->portgroups[1].uncarried_vlan == "a VLAN trunk (tags 8)");
  CHECK(n->portgroups[2].uncarried_vlan == "a native VLAN (tag 9)");
}

