#include "virt/site_config.hpp"

#include <regex>

#include <nlohmann/json.hpp>

#include "model/net_address.hpp"
#include "model/json_reader.hpp"

namespace dr::virt {
namespace {

using json = nlohmann::json;
using model::pointer_append;

// The site-specific parts over the shared strict reader (model/json_reader.hpp).
class Reader : public model::JsonReader {
 public:
  void ceph(const json& v, const std::string& ptr, CephAccess& out) {
    if (!object(v, ptr, {"monitors", "user", "secretUuid", "clientConf"})) return;
    if (const json* mons = array_member(v, ptr, "monitors")) {
      const std::string at = pointer_append(ptr, "monitors");
      for (std::size_t i = 0; i < mons->size(); ++i) {
        const std::string mp = pointer_append(at, i);
        const json& m = (*mons)[i];
        if (!object(m, mp, {"host", "port"})) continue;
        RbdMonitor mon;
        mon.host = opt_string(m, mp, "host", true).value_or("");
        if (const auto port = opt_integer(m, mp, "port", 1, 65535, false)) {
          mon.port = static_cast<int>(*port);
        }
        out.monitors.push_back(std::move(mon));
      }
    }
    out.user = opt_string(v, ptr, "user", false);
    if (out.user && out.user->rfind("client.", 0) == 0) {
      add(pointer_append(ptr, "user"), "the cephx user without 'client.' (libvirt adds it)");
    }
    out.secret_uuid = opt_string(v, ptr, "secretUuid", false);
    static const std::regex uuid_re(
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
    if (out.secret_uuid && !std::regex_match(*out.secret_uuid, uuid_re)) {
      add(pointer_append(ptr, "secretUuid"), "not a UUID: '" + *out.secret_uuid + "'");
    }
    out.client_conf = opt_string(v, ptr, "clientConf", false);
    if (out.client_conf && out.client_conf->front() != '/') {
      add(pointer_append(ptr, "clientConf"), "must be an absolute path");
    }
    if (out.secret_uuid && !out.user) add(ptr, "'secretUuid' needs 'user'");
  }

  void networks(const json& v, const std::string& ptr, SiteConfig& out) {
    if (!object(v, ptr, {"create", "templates"})) return;
    out.create_networks = opt_boolean(v, ptr, "create").value_or(false);
    const json* templates = array_member(v, ptr, "templates");
    if (templates == nullptr) return;
    const std::string at = pointer_append(ptr, "templates");
    for (std::size_t i = 0; i < templates->size(); ++i) {
      const std::string tp = pointer_append(at, i);
      const json& t = (*templates)[i];
      if (!object(t, tp, {"switch", "kind", "bridge"})) continue;
      NetworkTemplate nt;
      nt.switch_name = opt_string(t, tp, "switch", false).value_or("*");
      if (const auto kind = opt_string(t, tp, "kind", true)) {
        if (*kind == "openvswitch") nt.kind = SwitchKind::openvswitch;
        else if (*kind == "isolated") nt.kind = SwitchKind::isolated;
        else add(pointer_append(tp, "kind"), "expected 'openvswitch' or 'isolated'");
      }
      nt.bridge = opt_string(t, tp, "bridge", false).value_or("{switch}");
      out.network_templates.push_back(std::move(nt));
    }
  }

  void drill(const json& v, const std::string& ptr, SiteConfig& out) {
    if (!object(v, ptr, {"network", "kind", "bridge"})) return;
    NetworkTemplate t;
    t.switch_name = opt_string(v, ptr, "network", true).value_or("");
    if (const auto kind = opt_string(v, ptr, "kind", false)) {
      if (*kind == "isolated") {
        t.kind = SwitchKind::isolated;
      } else if (*kind != "openvswitch") {
        add(pointer_append(ptr, "kind"), "expected 'openvswitch' or 'isolated'");
      }
    }
    t.bridge = opt_string(v, ptr, "bridge", false).value_or(t.switch_name);
    out.drill_switch = std::move(t);
  }

  void portgroups(const json& list, const std::string& at, SiteConfig& out) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string pp = pointer_append(at, i);
      const json& p = list[i];
      if (!object(p, pp, {"switch", "portgroup", "subnets"})) continue;
      DeclaredPortgroup d;
      d.switch_name = opt_string(p, pp, "switch", true).value_or("");
      d.portgroup = opt_string(p, pp, "portgroup", true).value_or("");
      const json* subnets = array_member(p, pp, "subnets");
      if (subnets == nullptr) add(pp, "missing required field 'subnets'");
      for (std::size_t s = 0; subnets != nullptr && s < subnets->size(); ++s) {
        const std::string sp = pointer_append(pointer_append(pp, "subnets"), s);
        const json& sub = (*subnets)[s];
        if (!object(sub, sp, {"cidr", "gateway"})) continue;
        model::Subnet subnet;
        subnet.cidr = opt_string(sub, sp, "cidr", true).value_or("");
        if (!subnet.cidr.empty() && !model::Cidr::parse(subnet.cidr)) {
          add(pointer_append(sp, "cidr"), model::Cidr::why_invalid(subnet.cidr));
        }
        subnet.gateway = opt_string(sub, sp, "gateway", false);
        if (subnet.gateway && !model::Ipv4::parse(*subnet.gateway)) {
          add(pointer_append(sp, "gateway"), "not an IPv4 address: '" + *subnet.gateway + "'");
        }
        d.subnets.push_back(std::move(subnet));
      }
      for (std::size_t j = 0; j < out.portgroups.size(); ++j) {
        if (out.portgroups[j].switch_name == d.switch_name &&
            out.portgroups[j].portgroup == d.portgroup) {
          add(pp, "portgroup '" + d.portgroup + "' of switch '" + d.switch_name +
                      "' declared twice");
        }
      }
      out.portgroups.push_back(std::move(d));
    }
  }
};

}  // namespace

Result<SiteConfig, model::Problems> parse_site_config(std::string_view text) {
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return model::Problems{{"", "not valid JSON"}};
  Reader r;
  SiteConfig out;
  if (!r.object(doc, "", {"apiVersion", "kind", "site", "ceph", "domainType", "networks",
                          "portgroups", "restore", "consoleLogDir", "drill"})) {
    return r.problems;
  }
  const auto api = r.opt_string(doc, "", "apiVersion", true);
  if (api && *api != model::kApiVersion) r.add("/apiVersion", "expected 'drpair/v1'");
  const auto kind = r.opt_string(doc, "", "kind", true);
  if (kind && *kind != "SiteConfig") r.add("/kind", "expected 'SiteConfig'");
  out.site = r.opt_string(doc, "", "site", true).value_or("");
  if (const auto it = doc.find("ceph"); it != doc.end()) r.ceph(*it, "/ceph", out.ceph);
  if (const auto type = r.opt_string(doc, "", "domainType", false)) {
    if (*type != "kvm" && *type != "qemu" && *type != "test") {
      r.add("/domainType", "expected 'kvm', 'qemu' or 'test'");
    }
    out.domain_type = *type;
  }
  if (const auto it = doc.find("networks"); it != doc.end()) r.networks(*it, "/networks", out);
  if (const json* pgs = r.array_member(doc, "", "portgroups")) r.portgroups(*pgs, "/portgroups", out);
  // libvirtd (and QEMU) open the log, so a relative path would depend on their working folder.
  if (auto dir = r.opt_string(doc, "", "consoleLogDir", false)) {
    if (dir->front() != '/') r.add("/consoleLogDir", "must be an absolute path");
    while (dir->size() > 1 && dir->back() == '/') dir->pop_back();
    out.console_log_dir = std::move(*dir);
  }
  if (const auto it = doc.find("drill"); it != doc.end()) r.drill(*it, "/drill", out);
  if (const auto it = doc.find("restore"); it != doc.end()) {
    if (r.object(*it, "/restore", {"parallelism", "startTimeoutSeconds"})) {
      out.parallelism = static_cast<int>(
          r.opt_integer(*it, "/restore", "parallelism", 1, 64, false).value_or(out.parallelism));
      out.start_timeout_seconds = static_cast<int>(
          r.opt_integer(*it, "/restore", "startTimeoutSeconds", 1, 3600, false)
              .value_or(out.start_timeout_seconds));
    }
  }
  if (!r.problems.empty()) return r.problems;
  return out;
}

std::optional<NetworkTemplate> template_for(const SiteConfig& config,
                                            const std::string& switch_name) {
  for (const auto& t : config.network_templates) {
    if (t.switch_name == switch_name) return t;
  }
  for (const auto& t : config.network_templates) {
    if (t.switch_name == "*") return t;
  }
  return std::nullopt;
}

const DeclaredPortgroup* declared_portgroup(const SiteConfig& config, const std::string& switch_name,
                                            const std::string& portgroup) {
  for (const auto& p : config.portgroups) {
    if (p.switch_name == switch_name && p.portgroup == portgroup) return &p;
  }
  return nullptr;
}

}  // namespace dr::virt
