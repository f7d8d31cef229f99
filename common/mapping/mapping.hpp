#pragma once
// The mapping engine (DESIGN.md §4, the seed's claims 3-7): turn a FirstDescription into the
// SecondDescription for a DR site, validate a SecondDescription the DR site did not generate, and
// show what changed between two descriptions of one application.
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
//  - one backup network per source network the app uses: switch from the policy's rule, else
//    defaultSwitch, else the source switch; VLAN, portgroup and subnets from the rule, else kept;
//  - one backup VM per source VM: same id, name and boot order; spec scaled by the policy's
//    percentages (rounded up, at least 1 vCPU and 1 MiB); disks with mapped pools and the same
//    image names; NICs keep their MACs;
//  - a NIC known only by its address goes to the network whose subnet holds it (exactly one
//    must); addresses are kept or translated into the mapped subnet (policy `ip`);
//  - one replication pair per disk, mode and interval from the policy.
// The DR site name is the policy's `site`, else the inventory's, else "<source site>-dr".
// With an inventory the result is also validated against it.
// Returns every problem found (pointers into the first description for input problems, into the
// policy as "/policy/..." for policy problems, into the second description for inventory
// clashes).
model::Parsed<model::SecondDescription> generate(const model::FirstDescription& first,
                                                 const model::MappingPolicy& policy,
                                                 const model::Inventory* inventory = nullptr);

// Checks `second` against `first` (and, if given, the DR site's inventory) and returns every
// problem, each with a JSON Pointer into `second`. Empty means valid. See DESIGN.md §4 for the
// list of checks.
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
