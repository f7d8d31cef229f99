#pragma once
// The mapping engine (README, "The mapping rules"; claims 3-7 of the patent CN103843284 that the
// README names): turn a FirstDescription into the SecondDescription for a DR site, validate a
// SecondDescription the DR site did not generate, and show what changed between two descriptions
// of one application.
// Pure functions of their inputs: no I/O, no clocks, no globals; safe from any thread.

#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "model/descriptions.hpp"
#include "model/json_io.hpp"  // model::Parsed
#include "model/problem.hpp"

namespace dr::mapping {

// Generates the second description. Deterministic: equal inputs give equal outputs (and so
// byte-identical canonical JSON).
//  - one backup network per source network (the first description lists the networks the app
//    uses), with the source's id: switch from the policy's rule, else defaultSwitch, else the
//    source switch; VLAN, portgroup and subnets from the rule, else kept; a subnet rule without a
//    gateway moves the source gateway into the new subnet, keeping its host part;
//  - one backup VM per source VM: same id, name and boot order; spec scaled by the policy's
//    percentages (rounded up, at least 1 vCPU and 1 MiB); disks with mapped pools and the same
//    image names and sizes; NICs keep their MACs;
//  - a NIC known only by its address goes to the network whose subnet holds it (exactly one
//    must); addresses are kept or translated into the mapped subnet (policy `ip`);
//  - one replication pair per disk, mode and interval from the policy.
// The DR site name is the policy's `site`, else the inventory's, else "<source site>-dr".
// The result is then validated (against the inventory too, if given) and refused if it has any
// problem, so a generated description always passes validate().
// Returns every problem found: policy problems at "/policy/...", input problems at pointers into
// the first description, and the validator's problems at pointers into the would-be second
// description. The second description keeps the first's order (backup VM i backs source VM i,
// with its disks and NICs in the same places), so "/vms/2/nics/1" names the same NIC in both.
model::Parsed<model::SecondDescription> generate(const model::FirstDescription& first,
                                                 const model::MappingPolicy& policy,
                                                 const model::Inventory* inventory = nullptr);

// Checks `second` against `first` (and, if given, the DR site's inventory) and returns every
// problem, each with a JSON Pointer into `second`. Empty means valid. See README, "The mapping
// rules" > "Validate", for the list of checks.
model::Problems validate(const model::FirstDescription& first,
                         const model::SecondDescription& second,
                         const model::Inventory* inventory = nullptr);

// One difference between two descriptions of the same application.
struct Change {
  enum class Kind { added, removed, changed };
  Kind kind;
  std::string pointer;  // the object, in the NEW document for added/changed, the OLD for removed
  std::string what;     // "vm 'app1-db1'", "disk 'vdb' of vm 'app1-db1'", "network 'net-web'"
  std::string detail;   // for changed, its fields: "spec.memoryMiB 2048 -> 4096, bootOrder 2 -> 1"
  bool operator==(const Change&) const = default;
};

// What changed from `before` to `after` (VMs, disks, NICs, networks, replication pairs),
// matching objects by their ids (VM id, disk target, NIC MAC, network id), in document order.
std::vector<Change> diff(const model::FirstDescription& before,
                         const model::FirstDescription& after);
std::vector<Change> diff(const model::SecondDescription& before,
                         const model::SecondDescription& after);

const char* to_string(Change::Kind kind) noexcept;

}  // namespace dr::mapping
