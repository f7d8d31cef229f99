#pragma once
// Failover, DR side: a registered app made to run at this site, as one journaled job.
//
// @verbatim
//   disaster                                  planned
//   --------                                  -------
//   fence                                     (app -> failing_over)
//     | production unreachable, or answers       |
//     | and holds nothing (no primary image,     |
//     | no running VM); else refused unless      |
//     | force (nothing changed: the app          |
//     | keeps its state)                         |
//     v                                          |
//   (app -> failing_over)                        |
//     \___________________  ____________________/
//                         \/
//            drill-cleanup/remove-domains   only with a drill in place (workflow/drill.hpp):
//                         |                 its VMs go before anything of the app starts
//     ___________________/\____________________
//    /                                          \ (planned)
//   promote:<image> x N (forced, parallel)    stop-production
//     |                                          | the production agent shuts the app's VMs down
//     |                                          | and takes it out of protection there
//     |                                          v
//     |                                       role-change:<image>   x N (in parallel)
//     |                                          | storage/role_change.hpp with the production
//     |                                          | image as `from` (through the peer API) and
//     |                                          | this site's as `to`: sync forward, demote
//     |                                          | there, demotion complete here, planned promote
//     |                                          v
//     |                                       release-production
//     |                                          | no image primary, no VM running there: the
//     |                                          | app is failed_over at the production site
//     \___________________  ____________________/
//                         \/
//                 restore/...   the second description on libvirt (workflow/restore.hpp)
//                         |
//          drill-cleanup/remove-copy:<image>   the drill's copies (after the app runs)
//                         |
//                      report   what runs where, read back from libvirt
//                         |
//                 (app -> failed_over; on an error -> failed, with the error)
// @endverbatim
// Every step is idempotent: an image already primary here is not promoted again, a role change
// starts from what both ends show, the restore checks libvirt before each change. A job cut
// off anywhere (agent killed, a call failing) is resumed by running it again over the same
// journal and reaches the same end state with no step done twice. A stop requested between
// steps leaves the job unfinished (Errc::aborted) and the app failing_over, for the next start.
//
// Per-image work runs on at most `parallelism` threads of this job (workflow/parallel.hpp).
//
// Ownership: FailoverSite borrows everything; it must outlive the call. Thread-safety: one job
// per app at a time (the agent's job rules); several apps' jobs may run at once.

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "api/peer_api.hpp"
#include "core/result.hpp"
#include "state/state_store.hpp"
#include "storage/mirror_storage.hpp"
#include "virt/hypervisor.hpp"
#include "virt/site_config.hpp"
#include "workflow/steps.hpp"

namespace dr::workflow {

// The DR site as a failover sees it.
struct FailoverSite {
  state::StateStore& store;
  storage::MirrorStorage& storage;
  virt::Hypervisor& hypervisor;
  virt::HypervisorFactory workers;  // connections for parallel VM starts
  const virt::SiteConfig& config;
  std::string peer_site;           // the production site's name, for messages
  api::ProductionPeer& peer;       // the planned hand-over (stop with its own, longer timeout)
  api::ProductionPeer& fence_peer; // the fence's question (with the fence timeout)
  std::chrono::milliseconds promote_timeout{std::chrono::minutes(5)};
  int parallelism = 8;
  std::function<void(std::string_view)> log;
  // Failback: how long this site's VMs get to shut down (ACPI) before they are powered off.
  std::chrono::seconds shutdown_timeout{120};
  // Reprotect: how long the production site's copies may take to catch up (a resync copies the
  // whole image again).
  std::chrono::milliseconds resync_timeout{std::chrono::minutes(30)};
  // How often a wait on the production site's image asks it (through the peer).
  std::chrono::milliseconds peer_poll{500};
};

// What a failover job's request says (stored with the job).
struct FailoverRequest {
  bool planned = false;
  bool force = false;  // disaster: fail over although production still answers and holds the app
};

// Runs (or resumes) failover job `job` of app `app_id`, recording the app's state as it goes.
Status run_failover(FailoverSite& site, const std::string& app_id, const FailoverRequest& request,
                    Steps& steps);

}  // namespace dr::workflow
