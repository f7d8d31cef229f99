#include "virt_test_support.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "model/json_io.hpp"
#include "virt/libvirt_hypervisor.hpp"

namespace dr::virt::testing {

std::string fixture(const std::string& relative) {
  return std::string(DR_FIXTURES_DIR) + "/" + relative;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::shared_ptr<Hypervisor> open_site(const std::string& name) {
  auto h = open_libvirt("test://" + fixture("libvirt/" + name + ".xml"));
  if (!h) throw std::runtime_error(h.error().message);
  return std::shared_ptr<Hypervisor>(std::move(*h));
}

SiteConfig load_config(const std::string& name) {
  auto c = parse_site_config(slurp(fixture("libvirt/" + name + ".json")));
  if (!c) throw std::runtime_error("bad site config " + name + ": " + model::format(c.error()[0]));
  return *c;
}

model::FirstDescription load_first(const std::string& relative) {
  auto d = model::parse_first_description(slurp(fixture(relative)));
  if (!d) throw std::runtime_error("bad first description " + relative);
  return *d;
}

model::SecondDescription load_second(const std::string& relative) {
  auto d = model::parse_second_description(slurp(fixture(relative)));
  if (!d) throw std::runtime_error("bad second description " + relative);
  return *d;
}

std::string site_picture(Hypervisor& hv) {
  std::vector<std::string> lines;
  auto nets = hv.list_networks();
  if (!nets) throw std::runtime_error(nets.error().message);
  for (const auto& n : *nets) {
    std::string line = "network " + n.name + (n.active ? " active" : " inactive") + " pg:";
    std::vector<std::string> pgs;
    for (const auto& pg : n.portgroups) {
      pgs.push_back(pg.name + "=" + (pg.vlan ? std::to_string(*pg.vlan) : "-"));
    }
    std::sort(pgs.begin(), pgs.end());
    for (const auto& p : pgs) line += " " + p;
    lines.push_back(line);
  }
  auto doms = hv.list_domains();
  if (!doms) throw std::runtime_error(doms.error().message);
  for (const auto& d : *doms) {
    auto def = hv.get_domain(d.name);
    if (!def) throw std::runtime_error(def.error().message);
    std::string line = "domain " + d.name + " " + d.uuid + " " + to_string(d.state) + " " +
                       std::to_string(def->vcpus) + "cpu " + std::to_string(def->memory_mib) +
                       "MiB";
    for (const auto& disk : def->disks) line += " disk:" + disk.target + "=" + disk.pool + "/" + disk.image;
    for (const auto& nic : def->nics) {
      line += " nic:" + nic.mac + "=" + nic.network + "/" + nic.portgroup.value_or("-");
    }
    if (def->membership) {
      line += " app:" + def->membership->app_id + "@" + std::to_string(def->membership->generation);
      for (const auto& n : def->membership->networks) {
        line += " net:" + n.switch_name + "/" + n.portgroup.value_or("-") + "(" + n.created + ")";
      }
    }
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace dr::virt::testing
