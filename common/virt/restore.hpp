#pragma once
// Restore: a SecondDescription made real at the DR site's libvirt (DESIGN.md §5 steps 2-4), and
// teardown, its inverse for drills and failback.
//
// The restore is a step machine. Each step is journaled (virt/journal.hpp): intent before its side
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
// Ownership: the workflow borrows the hypervisor, factory, journal and config; they must outlive
// it. Thread-safety: one run() at a time per workflow; several workflows (different apps) may run
// at once against one site.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "model/descriptions.hpp"
#include "virt/hypervisor.hpp"
#include "virt/journal.hpp"
#include "virt/site_config.hpp"

namespace dr::virt {

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

struct ReportStep {
  std::string name;
  std::int64_t ms = 0;
  bool skipped = false;  // done in an earlier run (journal)
};

struct StepFailure {
  std::string step;  // "define-domain:app1-web1"
  Error error;
};

struct RestoreReport {
  std::string app;
  std::vector<ReportVm> vms;
  std::vector<ReportNetwork> networks;
  std::vector<ReportStep> steps;
  std::optional<StepFailure> failure;
  // Every VM of the description runs and no step failed.
  bool ok() const;
};

// The CLI's JSON report: {"app", "vms": [{"name","state","nics":[{"mac","switch","portgroup"}]}],
// "networks": [{"id","switch","portgroup","vlan"}], "steps": [{"name","ms"}], and on failure
// "failed": {"step","code","message"}}.
std::string report_json(const RestoreReport& report);

// Where a backup network lives at this site, as the ensure-network step found or made it.
struct NetworkBinding {
  std::string switch_name;
  std::optional<std::string> portgroup;
  std::optional<int> vlan;
  std::string created;  // "network", "portgroup" or "" (it existed)
};

// The definition a restore gives backup VM `vm`: its UUID and name, spec, RBD disks with the
// site's Ceph access, NICs on their bound portgroups, and the drpair metadata (app id and name,
// source generation, boot order, source site and VM, declared addresses and networks). Pure; no
// checks. REQUIRES: `bindings` holds every network of `second`.
DomainDef backup_domain(const model::SecondDescription& second, const model::BackupVm& vm,
                        const SiteConfig& config,
                        const std::map<std::string, NetworkBinding>& bindings);

class RestoreWorkflow {
 public:
  // `workers` opens the connections of parallel starts (libvirt_factory / share_one).
  RestoreWorkflow(const model::SecondDescription& second, const SiteConfig& config,
                  Hypervisor& hypervisor, HypervisorFactory workers, RestoreJournal& journal);

  // Runs (or resumes) the restore. The report is always filled in (read back from libvirt); on a
  // failed step it names the step and the error, and the journal holds the step as failed.
  RestoreReport run();

 private:
  const model::SecondDescription& second_;
  const SiteConfig& config_;
  Hypervisor& hv_;
  HypervisorFactory workers_;
  RestoreJournal& journal_;
};

struct TeardownReport {
  std::vector<std::string> domains;     // undefined (destroyed first if running)
  std::vector<std::string> portgroups;  // "switch/portgroup" removed
  std::vector<std::string> networks;    // removed
  std::vector<std::string> kept;        // created by the restore but still used by others
};

// Removes what restores of `app_id` created at this site: the domains they defined (those whose
// metadata says they were restored), the portgroups and networks they created (recorded in that
// metadata and, when given, in `journal`, which covers a restore cut off before any domain was
// defined), unless other domains still use them. Domains of the app that no restore made (the
// production site's own) are never touched. Clears `journal` when done.
Result<TeardownReport> teardown(Hypervisor& hypervisor, const std::string& app_id,
                                RestoreJournal* journal = nullptr);

}  // namespace dr::virt
