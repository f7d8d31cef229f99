#pragma once
// The production site's side of the lifecycle away from it: a planned failover, the fence of a
// returning site, a reprotect and a failback. The DR agent's jobs drive the first and the last
// two through the peer API (workflow/failover.hpp, workflow/failback.hpp); the fence is this
// site's own job.
//
// Planned failover: the DR agent stops the app here, changes each image's role with the one
// role-change machine (storage/role_change.hpp), whose `from` end is this site's image, and
// releases the app here before it restores the VMs at the DR site.
//
// @verbatim
//   stop                 every running VM of the app asked to shut down (ACPI); those still
//     |                  running after shutdown_timeout powered off (0: at once);
//     |                  app -> failing_over (no mirror snapshot schedule, no re-capture)
//     v
//   image / snapshot / demote / promote      per image, as the role change asks: its end of
//     |                  the pair, a mirror snapshot (sync before demote), a demotion, a planned
//     |                  promote (a stalled pair's recovery); actions only while the app is
//     |                  stopped here (failing_over or failed_over)
//     v
//   release              every image non-primary and no VM running: app -> failed_over
// @endverbatim
//
// Fence (this site returns after a disaster failover; production agent, JobType::fence):
// @verbatim
//   ask-dr          the DR agent holds the app failed_over, reprotecting or protected_reverse
//     |             while this site still takes it for its own (fence_reason); else refused
//     |             (app -> failing_over)
//     v
//   power-off       every running VM of the app powered off (no ACPI: its writes are lost anyway)
//     v
//   demote:<image>  x N   each image still primary here demoted
//     v
//   (app -> failed_over; on an error -> failed, with the error)
// @endverbatim
//
// Reprotect (the DR agent's job): pair (images of disks added at the DR site join the app's pairs
// here), resync (one image thrown away and copied again from the DR site) and reverse (the app is
// the DR site's replica here: protected_reverse). Failback (the DR agent's job): the role change's
// calls with this site as `to`, then start: what was added to the app at the DR site brought home
// (VMs defined here, disks and NICs added to their domains: api::StartRequest), the VMs started in
// boot order, the app protected from here again.
//
// Each call is idempotent: stop finds stopped VMs stopped; a demote of an image demoted here
// before answers its newest demotion; release of a released app answers it again. An image
// that is not one of the app's mirror pairs is not_found: the peer's credential reaches only
// the images of apps this site protects with it.
//
// Ownership and thread-safety: as ProductionSite (workflow/protect.hpp).

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/peer_api.hpp"
#include "core/result.hpp"
#include "storage/mirror_storage.hpp"
#include "virt/hypervisor.hpp"
#include "workflow/protect.hpp"
#include "workflow/steps.hpp"

namespace dr::workflow {

// What this site holds of the app (the DR agent's fence reads it): each image's role here and
// how many of its VMs run.
Result<api::ProductionAppView> production_view(ProductionSite& site, const std::string& app_id);

Result<api::ProductionAppView> stop_app(ProductionSite& site, const std::string& app_id);
Result<api::ImageEnd> image_end(ProductionSite& site, const std::string& app_id,
                                const storage::ImageSpec& image);
Result<api::ImageSnapshot> snapshot_image(ProductionSite& site, const std::string& app_id,
                                          const storage::ImageSpec& image);
Result<api::ImageSnapshot> demote_image(ProductionSite& site, const std::string& app_id,
                                        const storage::ImageSpec& image);
Result<api::ImageEnd> promote_image(ProductionSite& site, const std::string& app_id,
                                    const storage::ImageSpec& image);
Result<api::ProductionAppView> release_app(ProductionSite& site, const std::string& app_id);

Result<api::ImageEnd> resync_image(ProductionSite& site, const std::string& app_id,
                                   const storage::ImageSpec& image);
Result<api::ProductionAppView> reverse_app(ProductionSite& site, const std::string& app_id);
Result<api::ProductionAppView> pair_images(ProductionSite& site, const std::string& app_id,
                                           const api::PairImages& request);
Result<api::ProductionAppView> start_app(ProductionSite& site, const std::string& app_id,
                                         const api::StartRequest& request);

// Why this site must fence the app, given what the DR agent says of it: the DR site runs it
// (failed_over, reprotecting, protected_reverse) while this site still takes it for its own
// (protected, protecting, failed). nullopt: nothing to fence (a failover or failback in flight
// owns the app at both sites).
std::optional<std::string> fence_reason(const api::DrAppView& dr, state::AppState here,
                                        const std::string& dr_site);

// Runs (or resumes) a fence job of the app (diagram above).
Status run_fence(ProductionSite& site, const std::string& app_id, Steps& steps);

// The app's VMs found in libvirt (domains whose drpair metadata names it).
Result<std::vector<virt::DomainStatus>> app_domains(virt::Hypervisor& hypervisor,
                                                    const std::string& app_id);

// Shuts the app's running VMs down: all are asked at once (ACPI), those still running after
// `timeout` are powered off (0: at once). A VM that stops on its own meanwhile is fine.
Status stop_app_vms(virt::Hypervisor& hypervisor, const std::string& app_id,
                    std::chrono::seconds timeout, const std::function<void(std::string_view)>& log);

// Starts the app's VMs by boot order (ascending, those without one last): a group is asked at
// once, and each of its VMs waited for until running (up to `timeout` each) before the next.
Status start_app_vms(virt::Hypervisor& hypervisor, const std::string& app_id,
                     std::chrono::seconds timeout);

// The production site as its peer sees it, in process: the peer API's calls answered by this
// site's workflows (the agent's routes answer the same over HTTPS).
class LocalProductionPeer final : public api::ProductionPeer {
 public:
  explicit LocalProductionPeer(ProductionSite& site) : site_(site) {}
  Result<api::ProductionAppView> app(const std::string& app_id) override {
    return production_view(site_, app_id);
  }
  Result<api::ProductionAppView> stop(const std::string& app_id) override {
    return stop_app(site_, app_id);
  }
  Result<api::ImageEnd> image(const std::string& app_id,
                              const storage::ImageSpec& image) override {
    return image_end(site_, app_id, image);
  }
  Result<api::ImageSnapshot> snapshot(const std::string& app_id,
                                      const storage::ImageSpec& image) override {
    return snapshot_image(site_, app_id, image);
  }
  Result<api::ImageSnapshot> demote(const std::string& app_id,
                                    const storage::ImageSpec& image) override {
    return demote_image(site_, app_id, image);
  }
  Result<api::ImageEnd> promote(const std::string& app_id,
                                const storage::ImageSpec& image) override {
    return promote_image(site_, app_id, image);
  }
  Result<api::ProductionAppView> release(const std::string& app_id) override {
    return release_app(site_, app_id);
  }
  Result<api::ImageEnd> resync(const std::string& app_id,
                               const storage::ImageSpec& image) override {
    return resync_image(site_, app_id, image);
  }
  Result<api::ProductionAppView> reverse(const std::string& app_id) override {
    return reverse_app(site_, app_id);
  }
  Result<api::ProductionAppView> pair(const std::string& app_id,
                                      const api::PairImages& request) override {
    return pair_images(site_, app_id, request);
  }
  Result<api::ProductionAppView> start(const std::string& app_id,
                                       const api::StartRequest& request) override {
    return start_app(site_, app_id, request);
  }

 private:
  ProductionSite& site_;
};

}  // namespace dr::workflow
