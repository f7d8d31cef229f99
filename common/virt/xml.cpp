#include "virt/xml.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <charconv>
#include <cstring>
#include <memory>
#include <optional>

#include "model/descriptions.hpp"
#include "model/net_address.hpp"

namespace dr::virt {
namespace {

struct DocFreer {
  void operator()(xmlDocPtr doc) const noexcept { xmlFreeDoc(doc); }
};
using DocHandle = std::unique_ptr<xmlDoc, DocFreer>;

const xmlChar* to_xml(const char* text) { return reinterpret_cast<const xmlChar*>(text); }

bool is(const xmlNode* node, const char* name) {
  return node != nullptr && node->type == XML_ELEMENT_NODE &&
         xmlStrcmp(node->name, to_xml(name)) == 0;
}

bool in_drpair_ns(const xmlNode* node) {
  return node->ns != nullptr && node->ns->href != nullptr &&
         xmlStrcmp(node->ns->href, to_xml(kMetadataNamespace)) == 0;
}

// Element children named `name` (all element children when name is null).
template <class F>
void each_child(const xmlNode* parent, const char* name, F&& f) {
  if (parent == nullptr) return;
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (name == nullptr || xmlStrcmp(c->name, to_xml(name)) == 0) f(c);
  }
}

const xmlNode* child(const xmlNode* parent, const char* name) {
  const xmlNode* found = nullptr;
  each_child(parent, name, [&](const xmlNode* c) {
    if (found == nullptr) found = c;
  });
  return found;
}

std::optional<std::string> attr(const xmlNode* node, const char* name) {
  if (node == nullptr) return std::nullopt;
  xmlChar* value = xmlGetNoNsProp(node, to_xml(name));
  if (value == nullptr) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(value));
  xmlFree(value);
  return out;
}

std::string attr_or(const xmlNode* node, const char* name, std::string fallback = {}) {
  return attr(node, name).value_or(std::move(fallback));
}

std::string text(const xmlNode* node) {
  if (node == nullptr) return {};
  xmlChar* value = xmlNodeGetContent(node);
  if (value == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(value));
  xmlFree(value);
  const auto first = out.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = out.find_last_not_of(" \t\r\n");
  return out.substr(first, last - first + 1);
}

std::optional<std::int64_t> to_int(std::string_view s) {
  std::int64_t v = 0;
  const auto* end = s.data() + s.size();
  const auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc{} || p != end || s.empty()) return std::nullopt;
  return v;
}

std::optional<int> vlan_tag(const xmlNode* parent) {
  const xmlNode* vlan = child(parent, "vlan");
  const xmlNode* tag = child(vlan, "tag");
  const auto id = attr(tag, "id");
  if (!id) return std::nullopt;
  const auto v = to_int(*id);
  if (!v) return std::nullopt;
  return static_cast<int>(*v);
}

// A <vlan> that is more than one plain tag (libvirt's formatnetwork "Setting VLAN tag"): a trunk,
// several tags, a native VLAN. drpair maps one VLAN per network, so it names what it cannot carry.
std::optional<std::string> uncarried_vlan(const xmlNode* parent) {
  const xmlNode* vlan = child(parent, "vlan");
  if (vlan == nullptr) return std::nullopt;
  std::string tags;
  int count = 0;
  bool native = false;
  each_child(vlan, "tag", [&](const xmlNode* tag) {
    tags += (count++ == 0 ? "" : ", ") + attr_or(tag, "id");
    native = native || attr(tag, "nativeMode").has_value();
  });
  if (attr_or(vlan, "trunk") == "yes" || count > 1) return "a VLAN trunk (tags " + tags + ")";
  if (native) return "a native VLAN (tag " + tags + ")";
  return std::nullopt;
}

// A parsed document and its root element.
struct Parsed {
  DocHandle doc;
  const xmlNode* root;
};

// Parses `what` (named so in errors), whose root element must be <root>.
Result<Parsed> parse(std::string_view xml, const char* root, const char* what) {
  DocHandle doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), nullptr, nullptr,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                  XML_PARSE_NOBLANKS | XML_PARSE_COMPACT));
  if (!doc) {
    const xmlError* err = xmlGetLastError();
    return fail(Errc::invalid_argument, std::string(what) + " XML is not well-formed" +
                                            (err != nullptr && err->message != nullptr
                                                 ? std::string(": ") + err->message
                                                 : std::string()));
  }
  const xmlNode* top = xmlDocGetRootElement(doc.get());
  if (!is(top, root)) {
    return fail(Errc::invalid_argument, std::string(what) + " XML: no <" + root + "> root");
  }
  return Parsed{std::move(doc), top};
}

// libvirt's memory units (docs: formatdomain "Memory Allocation"); default KiB.
// The bytes of `value` in `unit`, or nullopt for a unit libvirt does not know.
std::optional<double> to_bytes(std::int64_t value, std::string unit) {
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double bytes = 0;
  if (unit.empty() || unit == "k" || unit == "kib") bytes = value * 1024.0;
  else if (unit == "b" || unit == "bytes") bytes = static_cast<double>(value);
  else if (unit == "kb") bytes = value * 1e3;
  else if (unit == "m" || unit == "mib") bytes = value * 1048576.0;
  else if (unit == "mb") bytes = value * 1e6;
  else if (unit == "g" || unit == "gib") bytes = value * 1073741824.0;
  else if (unit == "gb") bytes = value * 1e9;
  else if (unit == "t" || unit == "tib") bytes = value * 1099511627776.0;
  else if (unit == "tb") bytes = value * 1e12;
  else return std::nullopt;
  return bytes;
}

DiskDef read_disk(const xmlNode* node) {
  DiskDef d;
  d.device = attr_or(node, "device", "disk");
  const std::string type = attr_or(node, "type", "file");
  const xmlNode* target = child(node, "target");
  d.target = attr_or(target, "dev");
  d.bus = attr_or(target, "bus");
  const xmlNode* source = child(node, "source");
  const std::string protocol = attr_or(source, "protocol");
  if (type == "network" && protocol == "rbd") {
    d.rbd = true;
    const std::string name = attr_or(source, "name");
    const auto slash = name.find('/');
    if (slash == std::string::npos) {
      d.image = name;
    } else {
      d.pool = name.substr(0, slash);
      d.image = name.substr(slash + 1);
    }
    // pool/namespace/image (libvirt's formatdomain, "rbd").
    if (const auto ns = d.image.find('/'); ns != std::string::npos) {
      d.rbd_namespace = d.image.substr(0, ns);
      d.image = d.image.substr(ns + 1);
    }
    if (const auto snap = attr(child(source, "snapshot"), "name")) {
      d.uncarried.push_back("it opens the image at RBD snapshot '" + *snap +
                            "' (a snapshot is not replicated as a disk)");
    }
    // The rbd CLI's and QEMU's legacy spellings in the name: pool/image@snapshot and
    // pool/image:option=value. libvirt passes such a name on as the image's, which is none.
    if (const auto at = d.image.find('@'); at != std::string::npos) {
      d.uncarried.push_back("its name '" + name + "' opens RBD snapshot '" +
                            d.image.substr(at + 1) +
                            "' in the legacy spelling (a snapshot is not replicated as a disk)");
    } else if (const auto colon = d.image.find(':'); colon != std::string::npos) {
      d.uncarried.push_back("its name '" + name + "' carries options in QEMU's legacy spelling ('" +
                            d.image.substr(colon + 1) +
                            "'): name the image alone, options go in the domain XML");
    }
    const xmlNode* encryption = child(source, "encryption");
    if (encryption == nullptr) encryption = child(node, "encryption");
    if (encryption != nullptr) {
      d.uncarried.push_back("it is encrypted (<encryption format='" +
                            attr_or(encryption, "format", "?") +
                            "'>): the DR site would need its secret");
    }
    if (const auto format = attr(child(node, "driver"), "type"); format && *format != "raw") {
      d.uncarried.push_back("its driver type is '" + *format +
                            "' (an RBD disk drpair restores is raw)");
    }
    if (d.device != "disk") {
      d.uncarried.push_back("it is a " + d.device + " (drpair carries writable disks)");
    } else if (child(node, "readonly") != nullptr) {
      d.uncarried.push_back("it is read-only (<readonly/>), and drpair restores writable disks");
    }
    if (child(node, "shareable") != nullptr) {
      d.uncarried.push_back("it is shareable (<shareable/>), and drpair/v1 describes no shared disks");
    }
    each_child(source, "host", [&](const xmlNode* h) {
      RbdMonitor m{attr_or(h, "name"), std::nullopt};
      if (const auto port = attr(h, "port")) {
        if (const auto p = to_int(*port)) m.port = static_cast<int>(*p);
      }
      d.monitors.push_back(std::move(m));
    });
    if (const xmlNode* config = child(source, "config")) d.config_file = attr(config, "file");
    // <auth> may sit in <disk> (older form) or in <source>.
    const xmlNode* auth = child(source, "auth");
    if (auth == nullptr) auth = child(node, "auth");
    if (auth != nullptr) {
      d.auth_user = attr(auth, "username");
      d.secret_uuid = attr(child(auth, "secret"), "uuid");
    }
    return d;
  }
  if (source == nullptr) return d;  // no medium
  if (type == "file") {
    d.file = attr_or(source, "file");
    d.other_source = "file " + d.file;
  } else if (type == "block") {
    d.other_source = "block " + attr_or(source, "dev");
  } else if (type == "volume") {
    d.other_source = "volume '" + attr_or(source, "volume") + "' of libvirt storage pool '" +
                     attr_or(source, "pool") +
                     "': for an RBD image use the network form, <source protocol='rbd' "
                     "name='POOL/IMAGE'>";
  } else {
    // Every word the source has: "network nbd", "nvme pci", "vhostuser /tmp/sock".
    std::string what = type;
    for (const std::string& word :
         {protocol, attr_or(source, "name"), attr_or(source, "type"), attr_or(source, "path")}) {
      if (!word.empty()) what += " " + word;
    }
    d.other_source = what;
  }
  return d;
}

NicDef read_nic(const xmlNode* node) {
  NicDef n;
  const std::string type = attr_or(node, "type");
  const xmlNode* source = child(node, "source");
  // A running domain's live XML shows a network NIC as the type it resolved to (type='bridge'
  // on the QEMU driver), keeping network= and portgroup= on <source>.
  if (type == "network" || attr(source, "network")) {
    n.kind = NicKind::network;
    n.network = attr_or(source, "network");
    n.portgroup = attr(source, "portgroup");
  } else if (type == "bridge") {
    n.kind = NicKind::bridge;
    n.bridge = attr_or(source, "bridge");
  } else {
    n.kind = NicKind::other;
    n.bridge = type;
  }
  const std::string mac = attr_or(child(node, "mac"), "address");
  n.mac = model::canonical_mac(mac).value_or(mac);
  n.model = attr_or(child(node, "model"), "type");
  n.target_dev = attr(child(node, "target"), "dev");
  n.live_vlan = vlan_tag(node);
  if (child(node, "vlan") != nullptr) {
    n.own_vlan = uncarried_vlan(node).value_or("VLAN tag " +
                                               (n.live_vlan ? std::to_string(*n.live_vlan) : "?"));
  }
  return n;
}

// The first serial port's log: a <serial type='file'> writes the guest's output to its source
// path; a serial of another type (pty) may carry <log file=>, which libvirt fills in as well.
std::optional<std::string> read_serial_log(const xmlNode* devices) {
  std::optional<std::string> found;
  each_child(devices, "serial", [&](const xmlNode* serial) {
    if (found) return;
    if (attr_or(serial, "type") == "file") found = attr(child(serial, "source"), "path");
    if (!found || found->empty()) found = attr(child(serial, "log"), "file");
    if (found && found->empty()) found.reset();
  });
  return found;
}

// A <drpair:app> element. Its children count when they are in drpair's namespace, or, with
// `bare`, when they have none: virDomainGetMetadata hands the element back without its namespace.
Result<Membership> read_membership(const xmlNode* app, bool bare = false) {
  Membership m;
  const auto id = attr(app, "id");
  if (!id || id->empty()) return fail(Errc::invalid_argument, "drpair:app without an id");
  m.app_id = *id;
  m.app_name = attr(app, "name");
  if (const auto g = attr(app, "generation")) {
    const auto v = to_int(*g);
    if (!v || *v < 0) return fail(Errc::invalid_argument, "drpair:app generation '" + *g + "'");
    m.generation = *v;
  }
  if (const auto b = attr(app, "boot-order")) {
    const auto v = to_int(*b);
    if (!v || *v < 0 || *v > 1000000) {
      return fail(Errc::invalid_argument, "drpair:app boot-order '" + *b + "'");
    }
    m.boot_order = static_cast<int>(*v);
  }
  m.source_site = attr(app, "source-site");
  m.source_vm = attr(app, "source-vm");
  if (const auto d = attr(app, "drill")) {
    if (*d != "yes") return fail(Errc::invalid_argument, "drpair:app drill '" + *d + "'");
    m.drill = true;
  }
  Status status;
  each_child(app, nullptr, [&](const xmlNode* c) {
    if (!(bare ? c->ns == nullptr : in_drpair_ns(c)) || !status) return;
    if (is(c, "nic")) {
      const auto mac = attr(c, "mac");
      const auto ip = attr(c, "ip");
      if (!mac || !ip) {
        status = fail(Errc::invalid_argument, "drpair:nic needs mac and ip");
        return;
      }
      m.nics.push_back({model::canonical_mac(*mac).value_or(*mac), *ip});
    } else if (is(c, "network")) {
      DeclaredNetwork n;
      n.id = attr(c, "id");
      n.name = attr(c, "name");
      n.switch_name = attr_or(c, "switch");
      n.portgroup = attr(c, "portgroup");
      if (const auto v = attr(c, "vlan")) {
        if (const auto tag = to_int(*v)) n.vlan = static_cast<int>(*tag);
      }
      n.created = attr_or(c, "created");
      each_child(c, "subnet", [&](const xmlNode* s) {
        n.subnets.push_back({attr_or(s, "cidr"), attr(s, "gateway")});
      });
      if (n.switch_name.empty()) {
        status = fail(Errc::invalid_argument, "drpair:network without a switch");
        return;
      }
      m.networks.push_back(std::move(n));
    }
  });
  if (!status) return status.error();
  return m;
}

// Appends text escaped for an XML attribute value or element content.
void escaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
}

// The writers build one string, appending: pieces alternate between literal markup and escaped
// values, e.g. put(out, "<name>", Esc{name}, "</name>").
struct Esc {
  std::string_view text;
};

void put_one(std::string& out, std::string_view literal) { out += literal; }
void put_one(std::string& out, Esc value) { escaped(out, value.text); }
void put_one(std::string& out, std::int64_t number) { out += std::to_string(number); }

template <typename... Pieces>
void put(std::string& out, const Pieces&... pieces) {
  (put_one(out, pieces), ...);
}

void put_attr(std::string& out, const char* name, std::string_view value) {
  put(out, " ", name, "=\"", Esc{value}, "\"");
}

// `bare`: without the namespace, as virDomainSetMetadata takes the element (libvirt puts its
// whole subtree in the namespace it is given).
void append_membership(std::string& out, const Membership& m, bool bare = false) {
  const std::string_view ns = bare ? "" : "drpair:";
  if (bare) {
    out += "<app";
  } else {
    put(out, "<drpair:app xmlns:drpair=\"", kMetadataNamespace, "\"");
  }
  put_attr(out, "id", m.app_id);
  if (m.app_name) put_attr(out, "name", *m.app_name);
  put_attr(out, "generation", std::to_string(m.generation));
  if (m.boot_order) put_attr(out, "boot-order", std::to_string(*m.boot_order));
  if (m.source_site) put_attr(out, "source-site", *m.source_site);
  if (m.source_vm) put_attr(out, "source-vm", *m.source_vm);
  if (m.drill) put_attr(out, "drill", "yes");
  out += ">";
  for (const auto& nic : m.nics) {
    put(out, "<", ns, "nic");
    put_attr(out, "mac", nic.mac);
    put_attr(out, "ip", nic.ip);
    out += "/>";
  }
  for (const auto& n : m.networks) {
    put(out, "<", ns, "network");
    if (n.id) put_attr(out, "id", *n.id);
    if (n.name) put_attr(out, "name", *n.name);
    put_attr(out, "switch", n.switch_name);
    if (n.portgroup) put_attr(out, "portgroup", *n.portgroup);
    if (n.vlan) put_attr(out, "vlan", std::to_string(*n.vlan));
    if (!n.created.empty()) put_attr(out, "created", n.created);
    if (n.subnets.empty()) {
      out += "/>";
      continue;
    }
    out += ">";
    for (const auto& sub : n.subnets) {
      put(out, "<", ns, "subnet");
      put_attr(out, "cidr", sub.cidr);
      if (sub.gateway) put_attr(out, "gateway", *sub.gateway);
      out += "/>";
    }
    put(out, "</", ns, "network>");
  }
  put(out, "</", ns, "app>");
}

void append_portgroup(std::string& out, const PortgroupDef& pg) {
  put(out, "<portgroup name='", Esc{pg.name}, "'");
  if (pg.is_default) out += " default='yes'";
  out += ">";
  if (pg.vlan) put(out, "<vlan><tag id='", static_cast<std::int64_t>(*pg.vlan), "'/></vlan>");
  out += "</portgroup>";
}

}  // namespace

Result<DomainDef> parse_domain_xml(std::string_view xml) {
  auto doc = parse(xml, "domain", "domain");
  if (!doc) return doc.error();
  const xmlNode* root = doc->root;
  DomainDef d;
  d.type = attr_or(root, "type");
  d.name = text(child(root, "name"));
  d.uuid = text(child(root, "uuid"));
  if (d.name.empty()) return fail(Errc::invalid_argument, "domain XML: <name> missing");
  const xmlNode* vcpu = child(root, "vcpu");
  const auto vcpus = to_int(text(vcpu));
  d.vcpus = vcpus ? static_cast<int>(*vcpus) : 1;
  if (const auto current = attr(vcpu, "current")) {
    if (const auto online = to_int(*current); online && *online != d.vcpus) {
      d.uncarried.push_back("only " + *current + " of its " + std::to_string(d.vcpus) +
                            " vCPUs are online (<vcpu current='" + *current +
                            "'>), and drpair/v1 carries one vCPU count: make them equal");
    }
  }
  const xmlNode* memory = child(root, "memory");
  const auto mem = to_int(text(memory));
  const auto bytes = mem ? to_bytes(*mem, attr_or(memory, "unit")) : std::nullopt;
  if (!bytes) return fail(Errc::invalid_argument, "domain '" + d.name + "': unreadable <memory>");
  d.memory_mib = static_cast<std::int64_t>(*bytes / 1048576.0);
  if (static_cast<double>(d.memory_mib) * 1048576.0 != *bytes) {
    d.odd_memory_kib = static_cast<std::int64_t>(*bytes / 1024.0);
  }
  const xmlNode* devices = child(root, "devices");
  each_child(devices, "hostdev", [&](const xmlNode* n) {
    const xmlNode* address = child(child(n, "source"), "address");
    std::string where;
    for (const char* part : {"domain", "bus", "slot", "function"}) {
      if (const auto v = attr(address, part)) where += (where.empty() ? "" : ":") + *v;
    }
    d.uncarried.push_back("host device <hostdev type='" + attr_or(n, "type", "?") + "'" +
                          (where.empty() ? std::string() : " " + where) +
                          "> is passed through (the DR site's hosts do not have it)");
  });
  for (const char* tuning : {"cputune", "numatune", "memoryBacking", "maxMemory"}) {
    if (child(root, tuning) != nullptr) d.host_tuning.push_back(std::string("<") + tuning + ">");
  }
  if (child(child(root, "cpu"), "numa") != nullptr) d.host_tuning.push_back("<cpu><numa>");
  each_child(devices, "disk", [&](const xmlNode* n) { d.disks.push_back(read_disk(n)); });
  each_child(devices, "interface", [&](const xmlNode* n) { d.nics.push_back(read_nic(n)); });
  d.serial_log = read_serial_log(devices);
  each_child(child(root, "metadata"), "app", [&](const xmlNode* n) {
    if (!in_drpair_ns(n) || d.membership || d.broken_membership) return;
    auto m = read_membership(n);
    if (!m) {
      auto id = attr(n, "id");
      if (id && id->empty()) id.reset();
      d.broken_membership =
          BrokenMembership{id, "domain '" + d.name + "': drpair metadata: " + m.error().message};
      return;
    }
    d.membership = std::move(*m);
  });
  return d;
}

std::string disk_xml(const DiskDef& disk) {
  std::string out;
  if (!disk.rbd) {
    // Only file disks besides RBD (production-like fixtures); a restore defines RBD disks only.
    if (disk.file.empty()) return out;
    put(out, "    <disk type='file' device='", Esc{disk.device}, "'><source file='",
        Esc{disk.file}, "'/><target dev='", Esc{disk.target}, "'/></disk>\n");
    return out;
  }
  put(out, "    <disk type='network' device='", Esc{disk.device},
      "'>\n      <driver name='qemu' type='raw' cache='writeback'/>\n");
  if (disk.auth_user) {
    put(out, "      <auth username='", Esc{*disk.auth_user}, "'>");
    if (disk.secret_uuid) put(out, "<secret type='ceph' uuid='", Esc{*disk.secret_uuid}, "'/>");
    out += "</auth>\n";
  }
  put(out, "      <source protocol='rbd' name='", Esc{model::pool_spec(disk)}, "/", Esc{disk.image},
      "'>");
  for (const auto& m : disk.monitors) {
    put(out, "<host name='", Esc{m.host}, "'");
    if (m.port) put(out, " port='", static_cast<std::int64_t>(*m.port), "'");
    out += "/>";
  }
  if (disk.config_file) put(out, "<config file='", Esc{*disk.config_file}, "'/>");
  put(out, "</source>\n      <target dev='", Esc{disk.target}, "' bus='",
      Esc{disk.bus.empty() ? "virtio" : disk.bus}, "'/>\n    </disk>\n");
  return out;
}

std::string nic_xml(const NicDef& nic) {
  std::string out;
  if (nic.kind == NicKind::network) {
    put(out, "    <interface type='network'><mac address='", Esc{nic.mac}, "'/><source network='",
        Esc{nic.network}, "'");
    if (nic.portgroup) put(out, " portgroup='", Esc{*nic.portgroup}, "'");
    out += "/>";
  } else {
    put(out, "    <interface type='bridge'><mac address='", Esc{nic.mac}, "'/><source bridge='",
        Esc{nic.bridge}, "'/>");
  }
  put(out, "<model type='", Esc{nic.model.empty() ? "virtio" : nic.model},
      "'/><rom enabled='no'/></interface>\n");
  return out;
}

Result<std::string> with_devices(std::string_view domain, const std::vector<DiskDef>& disks,
                                 const std::vector<NicDef>& nics) {
  const auto end = domain.rfind("</devices>");
  if (end == std::string_view::npos) {
    return fail(Errc::invalid_argument, "domain XML without <devices>: cannot add devices");
  }
  std::string out(domain.substr(0, end));
  for (const auto& disk : disks) out += disk_xml(disk);
  for (const auto& nic : nics) out += nic_xml(nic);
  out += domain.substr(end);
  return out;
}

std::string domain_xml(const DomainDef& d) {
  std::string out;
  out.reserve(2048);
  put(out, "<domain type='", Esc{d.type}, "'>\n  <name>", Esc{d.name}, "</name>\n");
  if (!d.uuid.empty()) put(out, "  <uuid>", Esc{d.uuid}, "</uuid>\n");
  if (d.membership) {
    out += "  <metadata>";
    append_membership(out, *d.membership);
    out += "</metadata>\n";
  }
  put(out, "  <memory unit='MiB'>", d.memory_mib, "</memory>\n  <vcpu>",
      static_cast<std::int64_t>(d.vcpus), "</vcpu>\n");
  out += "  <os><type>hvm</type></os>\n  <features><acpi/></features>\n  <devices>\n";
  for (const auto& disk : d.disks) out += disk_xml(disk);
  for (const auto& nic : d.nics) out += nic_xml(nic);
  if (d.serial_log) {
    // append='off': the log holds the current boot only. libvirt adds the matching <console>
    // (an alias of serial port 0) itself.
    put(out, "    <serial type='file'><source path='", Esc{*d.serial_log},
        "' append='off'/><target port='0'/></serial>\n");
  }
  out += "  </devices>\n</domain>\n";
  return out;
}

std::string membership_xml(const Membership& membership) {
  std::string out;
  append_membership(out, membership, true);
  return out;
}

std::optional<std::string> membership_app_id(std::string_view xml) {
  auto doc = parse(xml, "app", "drpair metadata");
  if (!doc) return std::nullopt;
  auto id = attr(doc->root, "id");
  if (id && id->empty()) return std::nullopt;
  return id;
}

Result<Membership> parse_membership_xml(std::string_view xml) {
  auto doc = parse(xml, "app", "drpair metadata");
  if (!doc) return doc.error();
  auto m = read_membership(doc->root, true);
  if (!m) return fail(Errc::invalid_argument, "drpair metadata: " + m.error().message);
  return m;
}

Result<NetworkDef> parse_network_xml(std::string_view xml) {
  auto doc = parse(xml, "network", "network");
  if (!doc) return doc.error();
  const xmlNode* root = doc->root;
  NetworkDef n;
  n.name = text(child(root, "name"));
  n.uuid = text(child(root, "uuid"));
  n.forward_mode = attr_or(child(root, "forward"), "mode");
  if (child(root, "forward") != nullptr && n.forward_mode.empty()) n.forward_mode = "nat";
  n.bridge = attr_or(child(root, "bridge"), "name");
  n.virtualport = attr_or(child(root, "virtualport"), "type");
  n.vlan = vlan_tag(root);
  n.uncarried_vlan = uncarried_vlan(root);
  each_child(root, "ip", [&](const xmlNode* ip) {
    const std::string family = attr_or(ip, "family", "ipv4");
    if (family == "ipv6") {
      n.ipv6.push_back(attr_or(ip, "address") + "/" + attr_or(ip, "prefix", "64"));
      return;
    }
    if (family != "ipv4") return;
    NetworkIp out{attr_or(ip, "address"), 24};
    if (const auto prefix = attr(ip, "prefix")) {
      if (const auto p = to_int(*prefix)) out.prefix = static_cast<int>(*p);
    } else if (const auto mask = attr(ip, "netmask")) {
      if (const auto m = model::Ipv4::parse(*mask)) {
        out.prefix = __builtin_popcount(m->value());
      }
    }
    n.ips.push_back(std::move(out));
  });
  each_child(root, "portgroup", [&](const xmlNode* pg) {
    n.portgroups.push_back({attr_or(pg, "name"), vlan_tag(pg), attr_or(pg, "default") == "yes",
                            uncarried_vlan(pg)});
  });
  return n;
}

std::string portgroup_xml(const PortgroupDef& pg) {
  std::string out;
  append_portgroup(out, pg);
  return out;
}

std::string network_xml(const NetworkDef& n) {
  std::string out;
  put(out, "<network>\n  <name>", Esc{n.name}, "</name>\n");
  if (!n.uuid.empty()) put(out, "  <uuid>", Esc{n.uuid}, "</uuid>\n");
  if (!n.forward_mode.empty()) put(out, "  <forward mode='", Esc{n.forward_mode}, "'/>\n");
  if (!n.bridge.empty()) put(out, "  <bridge name='", Esc{n.bridge}, "'/>\n");
  if (!n.virtualport.empty()) put(out, "  <virtualport type='", Esc{n.virtualport}, "'/>\n");
  if (n.vlan) put(out, "  <vlan><tag id='", static_cast<std::int64_t>(*n.vlan), "'/></vlan>\n");
  for (const auto& ip : n.ips) {
    put(out, "  <ip address='", Esc{ip.address}, "' prefix='", static_cast<std::int64_t>(ip.prefix),
        "'/>\n");
  }
  for (const auto& pg : n.portgroups) {
    out += "  ";
    append_portgroup(out, pg);
    out += "\n";
  }
  out += "</network>\n";
  return out;
}

}  // namespace dr::virt

namespace dr::virt {

Result<StoragePoolInfo> parse_pool_xml(std::string_view xml) {
  auto doc = parse(xml, "pool", "storage pool");
  if (!doc) return doc.error();
  const xmlNode* root = doc->root;
  StoragePoolInfo info;
  info.name = text(child(root, "name"));
  info.type = attr_or(root, "type");
  info.source_name = text(child(child(root, "source"), "name"));
  return info;
}

}  // namespace dr::virt
