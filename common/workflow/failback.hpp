#pragma once
// Coming home, DR side: after a failover, reprotect makes this site the protected primary and the
// production site its replica; failback is a planned failover in the reverse direction. Both are
// the DR agent's journaled jobs; they drive the production site through the peer API
// (workflow/handover.hpp answers there; workflow/peer_end.hpp is its end of each pair).
//
// Reprotect (app failed_over here, or protected_reverse again; the production site up and fenced:
// workflow/handover.hpp):
// @verbatim
//   check-production     the production agent answers and holds the app fenced: failed_over (or
//     |                  protected_reverse), no image primary, no VM running; else refused and
//     |                  nothing changes (the app keeps its state)
//     |                  (app -> reprotecting)
//     v
//   capture              the RBD disks of the app's domains here that the restore did not make
//     |                  (added here while the app ran here: added_disks)
//     v
//   mirror:<image>       x A  snapshot mirroring on for each added disk's image (primary here;
//     |                       its RBD namespace's mirroring first)
//     v
//   pair-production      the production site pairs those images (it holds copies of them, or
//     |                  will; it makes and mirror-enables their RBD namespaces); this site's
//     |                  pairs include them
//     v
//   reprotect:<image>    x N (in parallel) storage::reprotect_pair with this site's image kept:
//     |                  a copy that diverged there (a disaster) is resynced, and the detail says
//     |                  what it discarded; then a fresh snapshot of this site complete there
//     v
//   reverse-production   the app is this site's replica there (protected_reverse)
//     v
//   (app -> protected_reverse; on an error -> failed, with the error)
// @endverbatim
// While protected_reverse, the DR agent takes the app's mirror snapshots on each pair's interval,
// records each image's lag at the production site (refresh_reverse_protection), and starts a
// reprotect when a disk is added to the app here (added_disks finds one not paired).
//
// Failback (app protected_reverse here; else refused: reprotect first):
// @verbatim
//   check-production     the production agent answers and holds the app as this site's replica
//     v                  (protected_reverse), or already protected (a resumed failback)
//   (app -> failing_back)
//   capture              what changed here since the restore (changes_here): VMs, disks and
//     |                  NICs added here come home; an added disk must be paired (else refused:
//     |                  reprotect first); what cannot come home (a disk that is not RBD, a NIC
//     v                  on no network of the app's) is refused, named, with nothing changed yet
//   stop-vms             this site's VMs of the app shut down (ACPI), powered off after the
//     v                  shutdown timeout
//   role-change:<image>  x N (in parallel) storage::planned_role_change from this site to the
//     |                  production site: sync forward, demote here, demotion complete there,
//     v                  planned promote there
//   start-production     the production site defines the added VMs, adds the added disks and
//     |                  NICs to its domains (workflow/handover.hpp) and starts its VMs in boot
//     v                  order; protected from there
//   remove-restored      what restores made here (domains, and portgroups and networks no other
//     |                  domain uses: workflow/restore.hpp's teardown) removed, and the domains
//     |                  of the VMs that came home (their disks stay: replicas again)
//     v
//   (app -> protected: the production agent's snapshots replicate here again; on an error ->
//    failed, with the error)
// @endverbatim
// Every step is idempotent and starts from what the world shows, so a job cut off anywhere is
// resumed by running it again over the same journal. Per-image work runs on at most
// site.parallelism threads.
//
// Ownership and thread-safety: as run_failover (workflow/failover.hpp).

#include <optional>
#include <string>
#include <vector>

#include "api/peer_api.hpp"
#include "core/result.hpp"
#include "workflow/failover.hpp"
#include "workflow/steps.hpp"

namespace dr::workflow {

Status run_reprotect(FailoverSite& site, const std::string& app_id, Steps& steps);
Status run_failback(FailoverSite& site, const std::string& app_id, Steps& steps);

// Why a reprotect or failback of the app cannot start now (it is in no state for it), with what
// to do; nullopt when it can. A job already owning the app (reprotecting, failing_back) resumes.
std::optional<Error> reprotect_refusal(const state::AppRecord& app);
std::optional<Error> failback_refusal(const state::AppRecord& app);

// What changed in the app here since the restore of its generation, as a failback brings it home:
// VMs added to it here, RBD disks added to its VMs (or on added VMs), NICs added (each with the
// production site's id of the app's network it is on: the network of the second description, or
// of a restore's declared binding, that its switch and portgroup match) - and, one line each, what
// cannot come home: a disk that is not RBD, a NIC on a bridge or on no network of the app's here.
// (Disks and NICs removed here, and a VM's size changed here, are not carried: the production
// site's domains come back as they were.)
struct ChangesHere {
  api::StartRequest added;
  std::vector<std::string> refused;
};
Result<ChangesHere> changes_here(FailoverSite& site, const std::string& app_id);

// The RBD disks added to the app's domains here (changes_here's).
Result<std::vector<api::AddedDisk>> added_disks(FailoverSite& site, const std::string& app_id);

// The DR site's monitor while apps run here protected in reverse (the DR agent runs it every few
// seconds): each pair's image at the production site (through the peer) gets its status recorded:
// role there, whether it holds a complete copy of a snapshot of this site, and its lag.
void refresh_reverse_protection(FailoverSite& site);

}  // namespace dr::workflow
