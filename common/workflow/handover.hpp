#pragma once
// The production site's side of a planned failover. The DR agent's job drives it through the
// peer API (workflow/failover.hpp): it stops the app here, changes each image's role with the one
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
// Each call is idempotent: stop finds stopped VMs stopped; a demote of an image demoted here
// before answers its newest demotion; release of a released app answers it again. An image
// that is not one of the app's mirror pairs is not_found: the peer's credential reaches only
// the images of apps this site protects with it.
//
// Ownership and thread-safety: as ProductionSite (workflow/protect.hpp).

#include <string>
#include <vector>

#include "api/peer_api.hpp"
#include "core/result.hpp"
#include "storage/mirror_storage.hpp"
#include "virt/hypervisor.hpp"
#include "workflow/protect.hpp"

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

// The app's VMs found in libvirt (domains whose drpair metadata names it).
Result<std::vector<virt::DomainStatus>> app_domains(virt::Hypervisor& hypervisor,
                                                    const std::string& app_id);

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

 private:
  ProductionSite& site_;
};

}  // namespace dr::workflow
