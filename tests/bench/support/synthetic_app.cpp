#include "synthetic_app.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace dr::bench {
namespace {

using nlohmann::json;

std::string mac(int vm, int nic) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "52:54:%02x:%02x:%02x:%02x", nic, (vm >> 16) & 0xff,
                (vm >> 8) & 0xff, vm & 0xff);
  return buf;
}

}  // namespace

std::string address(int network, int host) {
  return "10." + std::to_string(network) + "." + std::to_string((host >> 8) & 0xff) + "." +
         std::to_string(host & 0xff);
}

std::string first_description_text(int vms, const std::string& app_id) {
  json doc{{"apiVersion", "drpair/v1"},
           {"kind", "FirstDescription"},
           {"app", {{"id", app_id}, {"name", app_id}, {"site", "site-a"}, {"generation", 1}}},
           {"networks", json::array()},
           {"vms", json::array()}};
  for (int n = 0; n < kNetworks; ++n) {
    doc["networks"].push_back({{"id", "net" + std::to_string(n)},
                               {"name", "net" + std::to_string(n)},
                               {"switch", "vswitch0"},
                               {"portgroup", "pg" + std::to_string(n)},
                               {"vlan", 100 + n},
                               {"subnets", json::array({{{"cidr", address(n, 0) + "/16"},
                                                         {"gateway", address(n, 1)}}})}});
  }
  for (int v = 0; v < vms; ++v) {
    const std::string name = app_id + "-vm" + std::to_string(v);
    const int a = v % kNetworks, b = (v + 1) % kNetworks, host = 2 + v;
    doc["vms"].push_back(
        {{"id", "00000000-0000-4000-8000-" + std::to_string(100000000000 + v)},
         {"name", name},
         {"spec", {{"vcpus", 2}, {"memoryMiB", 2048}}},
         {"bootOrder", 1 + v % 3},
         {"disks",
          json::array(
              {{{"target", "vda"}, {"pool", "rbd"}, {"image", name + "-root"}, {"sizeGiB", 10}},
               {{"target", "vdb"}, {"pool", "rbd"}, {"image", name + "-data"}, {"sizeGiB", 50}}})},
         {"nics", json::array({{{"mac", mac(v, 0)},
                                {"network", "net" + std::to_string(a)},
                                {"ip", address(a, host)}},
                               {{"mac", mac(v, 1)}, {"ip", address(b, host)}}})}});
  }
  return doc.dump();
}


}  // namespace dr::bench
