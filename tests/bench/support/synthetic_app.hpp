#pragma once
// Synthetic applications of any size for the benchmarks (mapping, agents).

#include <string>

namespace dr::bench {

// Networks of every synthetic app: net0 .. net5, a /16 each (10.N.0.0/16) on switch "vswitch0",
// portgroup pgN, VLAN 100+N.
constexpr int kNetworks = 6;

// "10.<network>.<host / 256>.<host % 256>"
std::string address(int network, int host);

// A FirstDescription (JSON text) of app `app_id` at site-a, generation 1, with `vms` VMs named
// "<app_id>-vm<N>" (2 vCPUs, 2 GiB; boot order 1..3), each with two disks in pool "rbd"
// ("<vm>-root" 10 GiB, "<vm>-data" 50 GiB) and two NICs: one naming its network, one known only
// by its address (placed by subnet lookup).
std::string first_description_text(int vms, const std::string& app_id = "big");

}  // namespace dr::bench
