#pragma once
// Drills: a test failover of a protected app at the DR site, on an isolated switch, from writable
// copies of its replicas, while production runs and replication goes on (README, "Drills").
// Production is not asked or touched; the replicas stay non-primary and rbd-mirror keeps writing
// into them; the app's record keeps its state (protected).
//
// @verbatim
//   drill job                                  drill_cleanup job (and a failover's first steps)
//   ---------                                  -------------------------------------------------
//   plan              the drill of the app's    find-drill         the latest drill job of the app
//     |               registered generation:      |                and its plan
//     |               names, copies, portgroups   v
//     v               (nothing exists yet)      remove-domains     teardown of the drill's
//   copy:<image> x N  one writable copy per       |                restore (drill domains, the
//     |               replica, in parallel        |                drill switch when unused)
//     v                                           v
//   restore/...       workflow/restore.hpp,     remove-copy:<image> x N
//     |               kind drill
//     v
//   report            the drill report
// @endverbatim
//
// The recovery point. Ceph 16 cannot clone or copy a non-primary image at a mirror snapshot
// (docs/platform-notes.md, "A writable copy of a DR image"): the only correct source is the
// replica's HEAD between two snapshot copies of rbd-mirror. So each copy step waits until the
// replica's newest mirror snapshot is complete, copies HEAD (storage::MirrorStorage::copy_image),
// and keeps the copy only if that snapshot is still the newest afterwards; otherwise it discards
// the copy and tries again (at most kCopyAttempts times). Each image's copy is then exactly its
// newest complete snapshot, recorded in the step. Images are snapshotted on their own timers, so
// the app's recovery point is the oldest of those snapshots: its time is the RPO the drill would
// have had, and the report says it.
//
// What a drill brings up (plan_drill): every VM as "<vm>-drill" with a UUID derived from its own
// (drill_uuid), its disks the copies "<image>-drill" in the same pool, every NIC with its own MAC
// on the site's drill switch (virt::SiteConfig::drill_switch) in the portgroup of its network's
// name and VLAN - for a network that is a whole switch, a portgroup named after that switch - and
// drill="yes" in drpair's metadata. The drill switch is never one of the app's switches here, so
// the drill's tiers reach each other and nothing else.
//
// Rules (enforced here and by the DR agent; README, "Drills"):
//  - a drill needs a protected app, the drill switch configured, and no drill of the app in
//    place (drill_in_place): a second drill request while one runs finds the running job;
//  - a drill cleanup removes exactly what the drill created (its domains, the drill switch or its
//    portgroups when the drill created them and no other VM uses them, its copies); cut off, it is
//    run again;
//  - a failover cleans up a drill in place first (remove_drill_domains before its restore,
//    remove_drill_copies after it, so the copies' deletion does not delay the app);
//  - unregistering an app with a drill in place is refused: clean up first.
//
// Every step is idempotent and checks the world first, as in failover.hpp. Thread-safety: one job
// per app at a time (the agent's job rules).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/result.hpp"
#include "model/descriptions.hpp"
#include "state/state_store.hpp"
#include "storage/mirror_storage.hpp"
#include "virt/site_config.hpp"
#include "workflow/failover.hpp"
#include "workflow/steps.hpp"

namespace dr::workflow {

inline constexpr std::string_view kDrillSuffix = "-drill";
// Copies of one image discarded because rbd-mirror began a newer snapshot meanwhile, before the
// drill gives up on it.
inline constexpr int kCopyAttempts = 5;

// One replica and its drill copy (same pool).
struct DrillImage {
  storage::ImageSpec replica;
  storage::ImageSpec copy;
};

struct DrillPlan {
  model::SecondDescription description;  // what the drill's restore brings up
  std::vector<DrillImage> images;
};

// The drill of `second` on `drill_switch` (see above). failed_precondition when the drill switch
// is one of the app's switches here, or two of the app's networks need one drill portgroup with
// different VLANs (each named). Pure.
Result<DrillPlan> plan_drill(const model::SecondDescription& second,
                             const virt::NetworkTemplate& drill_switch);

// A UUID for the drill VM of the VM with `uuid`: the same for the same input, never `uuid`.
std::string drill_uuid(std::string_view uuid);

// Why a drill of `app` cannot start at this site (nullopt: it can): not protected here, no drill
// switch in `config`. The message says what to do.
std::optional<Error> drill_refusal(const state::AppRecord& app, const virt::SiteConfig& config);

// The app's drill in place: its latest drill job that went past planning, unless a drill cleanup
// or a failover succeeded after it. nullopt: none (never drilled, or cleaned up).
Result<std::optional<state::JobRecord>> drill_in_place(state::StateStore& store,
                                                       const std::string& app_id);

// Runs (or resumes) drill job `job` of the app. The job's report step holds the drill report:
// {"app", "generation", "network", "recoveryPoint": {"at", "rpoSeconds", "images": [{"image",
// "copy", "snapshotId", "primarySnapId", "snapshotAt", "bytes", "attempts", "ms"}]},
// "phases": {"planMs", "copyMs", "restoreMs"}, "toAllRunningMs", "restore": <restore report>}.
Status run_drill(FailoverSite& site, const state::JobRecord& job, Steps& steps);

// Runs (or resumes) a drill cleanup job: the drill in place (or the latest drill) is removed.
// failed_precondition when the app never had a drill.
Status run_drill_cleanup(FailoverSite& site, const std::string& app_id, Steps& steps);

// A failover's share of a cleanup, for the drill job `drill` (steps named within `steps`).
Status remove_drill_domains(FailoverSite& site, const state::JobRecord& drill, Steps& steps);
Status remove_drill_copies(FailoverSite& site, const state::JobRecord& drill, Steps& steps);

// The drill's domains at this site as libvirt has them: {"name", "state"} for each domain of the
// app marked as a drill (the app's detail lists them).
Result<nlohmann::json> drill_domains(virt::Hypervisor& hypervisor, const std::string& app_id);

}  // namespace dr::workflow
