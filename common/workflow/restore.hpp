#pragma once
// Restore: a SecondDescription made real at the DR site's libvirt (docs/contracts.md, "Restore at
// the DR site"), and teardown, its inverse for drills and failback.
//
// The restore is a step machine on the step engine (workflow/steps.hpp): intent before each side
// effect, result (with what it found or did) after, so a restore cut off anywhere is resumed by a
// new RestoreWorkflow over the same journal and converges to the same end state, with no
// duplicate network, portgroup or domain. Every step checks the world before acting.
// @verbatim
//   begin                        record app id + source generation (a journal of another
//     |                          restore is refused: failed_precondition)
//     v
//   inspect-network:<id>   x N   does the switch exist? the portgroup, with which VLAN?
//     |                          (recorded before anything is created: teardown and resume
//     v                           must know what existed before the restore)
//   ensure-network:<id>    x N   create the switch from the site's template (if allowed) or
//     |                          add the portgroup with its <vlan>; record
//     |                          backup network -> (switch, portgroup, created)
//     v
//   (re-read every switch: each NIC's network and portgroup must exist; neither libvirt's
//    test driver nor the QEMU driver checks portgroup names)
//     v
//   define-domain:<name>   x M   conflict check (same name with another UUID or another app:
//     |                          already_exists, never overwritten), then define with RBD disks,
//     |                          NICs on the recorded portgroups and the drpair metadata
//     v
//   start-group:<order>    x G   boot order ascending (VMs without one last); the VMs of a group
//     |                          start in parallel on separate connections, each waited for
//     v                          until running
//   done -> report, read back from libvirt (not echoed from the input)
// @endverbatim
// Ownership: the workflow borrows the hypervisor and config; they must outlive it. Thread-safety: one run() at a time per workflow; several workflows (different apps) may run
// at once against one site.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/result.hpp"
#include "model/descriptions.hpp"
#include "virt/hypervisor.hpp"
#include "virt/site_config.hpp"
#include "workflow/steps.hpp"

namespace dr::workflow {

struct ReportNic {
  std::string mac;
  std::string switch_name;
  std::optional<std::string> portgroup;
  bool operator==(const ReportNic&) const = default;
};

struct ReportVm {
  std::string name;
  std::string state;  // "running", "shutoff", ..., "missing" (never defined)
  std::vector<ReportNic> nics;
  bool operator==(const ReportVm&) const = default;
};

struct ReportNetwork {
  std::string id;  // the backup network id
  std::string switch_name;
  std::optional<std::string> portgroup;
  std::optional<int> vlan;  // as libvirt now has it
  bool operator==(const ReportNetwork&) const = default;
};

struct RestoreReport {
  std::string app;
  std::vector<ReportVm> vms;
  std::vector<ReportNetwork> networks;
  std::vector<StepTiming> steps;
  std::optional<StepFailure> failure;  // the step ("define-domain:app1-web1") and its error
  // Every VM of the description runs and no step failed.
  bool ok() const;
};

// The report as JSON (the CLI prints it; a failover job records it): {"app", "vms": [{"name",
// "state","nics":[{"mac","switch","portgroup"}]}], "networks": [{"id","switch","portgroup",
// "vlan"}], "steps": [{"name","ms"}], and on failure "failed": {"step","code","message"}}.
nlohmann::json to_json(const RestoreReport& report);

// What a restore brings up: the app itself (a failover) or a drill of it (workflow/drill.hpp),
// whose domains carry drill="yes" in their metadata. Neither kind redefines or removes the
// other's domains.
enum class RestoreKind { recovery, drill };

// Where a backup network lives at this site, as the ensure-network step found or made it.
struct NetworkBinding {
  std::string switch_name;
  std::optional<std::string> portgroup;
  std::optional<int> vlan;
  std::string created;  // "network", "portgroup" or "" (it existed)
};

// The definition a restore gives backup VM `vm`: its UUID and name, spec, RBD disks with the
// site's Ceph access, NICs on their bound portgroups, and the drpair metadata (app id and name,
// source generation, boot order, source site and VM, declared addresses and networks, and the
// drill mark for a drill). Pure; no checks. REQUIRES: `bindings` holds every network of `second`.
virt::DomainDef backup_domain(const model::SecondDescription& second, const model::BackupVm& vm,
                              const virt::SiteConfig& config,
                              const std::map<std::string, NetworkBinding>& bindings,
                              RestoreKind kind = RestoreKind::recovery);

// Starts domain `name` unless it runs, and waits until libvirt reports it running (polling);
// deadline_exceeded after `timeout`. A start refused because it already runs counts as started.
Status start_and_wait(virt::Hypervisor& hv, const std::string& name, std::chrono::seconds timeout);

class RestoreWorkflow {
 public:
  // `workers` opens the connections of parallel starts (libvirt_factory / share_one).
  RestoreWorkflow(const model::SecondDescription& second, const virt::SiteConfig& config,
                  virt::Hypervisor& hypervisor, virt::HypervisorFactory workers,
                  RestoreKind kind = RestoreKind::recovery);

  // Runs (or resumes) the restore's steps in `steps` (an agent passes its job's steps within
  // "restore/"). The report is always filled in (read back from libvirt); on a failed step it
  // names the step and the error, and the journal holds the step as failed.
  RestoreReport run(Steps& steps);

 private:
  const model::SecondDescription& second_;
  const virt::SiteConfig& config_;
  virt::Hypervisor& hv_;
  virt::HypervisorFactory workers_;
  RestoreKind kind_;
};

struct TeardownReport {
  std::vector<std::string> domains;     // undefined (destroyed first if running)
  std::vector<std::string> portgroups;  // "switch/portgroup" removed
  std::vector<std::string> networks;    // removed
  std::vector<std::string> kept;        // created by the restore but still used by others
};

// Removes what restores of `app_id` of `kind` created at this site: the domains they defined
// (those whose metadata says they were restored, with the drill mark for a drill), the portgroups
// and networks they created (recorded in that metadata and, when given, in the restore's steps in
// `journal` - named with `prefix` - which cover a restore cut off before any domain was defined),
// unless other domains still use them.
// Domains of the app that no restore made (the production site's own) are never touched. The
// journal is left as it is: its owner forgets it (MemoryJournal::clear) when it wants.
Result<TeardownReport> teardown(virt::Hypervisor& hypervisor, const std::string& app_id,
                                Journal* journal = nullptr, std::string_view prefix = {},
                                RestoreKind kind = RestoreKind::recovery);

}  // namespace dr::workflow
