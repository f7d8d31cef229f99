#include "workflow/handover.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "storage/role_change.hpp"
#include "workflow/app_records.hpp"

namespace dr::workflow {
namespace {

using Clock = std::chrono::steady_clock;

// Shuts the app's running VMs down: all are asked at once (ACPI), those still running after the
// shutdown timeout are powered off. A VM that stops on its own meanwhile is fine.
Status stop_vms(ProductionSite& site, const std::string& app_id) {
  auto domains = app_domains(site.hypervisor, app_id);
  if (!domains) return domains.error();
  std::vector<std::string> vms;
  for (const auto& d : *domains) {
    if (d.state == virt::DomainState::running) vms.push_back(d.name);
  }
  if (vms.empty()) return {};
  const auto timeout = site.shutdown_timeout;
  if (timeout.count() > 0) {
    for (const auto& name : vms) {
      if (auto s = site.hypervisor.shutdown_domain(name);
          !s && s.error().code != Errc::failed_precondition) {
        return with_context(s.error(), "shut down vm '" + name + "'");
      }
    }
    if (site.log) {
      site.log("stop " + app_id + ": asked " + std::to_string(vms.size()) +
               " vm(s) to shut down (up to " + std::to_string(timeout.count()) + " s)");
    }
    const auto deadline = Clock::now() + timeout;
    while (!vms.empty() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      std::erase_if(vms, [&](const std::string& name) {  // keep those still running
        auto status = site.hypervisor.domain_status(name);
        return status ? status->state != virt::DomainState::running
                      : status.error().code == Errc::not_found;
      });
    }
  }
  for (const auto& name : vms) {
    if (auto s = site.hypervisor.destroy_domain(name);
        !s && s.error().code != Errc::failed_precondition) {
      return with_context(s.error(), "power off vm '" + name + "'");
    }
    if (site.log) {
      site.log("stop " + app_id + ": vm " + name +
               (timeout.count() > 0 ? " did not shut down in time: powered off"
                                    : ": powered off"));
    }
  }
  return {};
}

// A primary is demoted; one demoted here before answers its newest demotion snapshot.
Result<storage::MirrorSnapshotRef> demote_once(storage::MirrorStorage& storage,
                                               const storage::ImageSpec& image) {
  auto info = storage.mirror_info(image);
  if (!info) return info.error();
  if (info->role == storage::ImageRole::primary) return storage.demote(image);
  auto snaps = storage.mirror_snapshots(image);
  if (!snaps) return snaps.error();
  auto uuid = storage.mirror_uuid(image.pool);
  if (!uuid) return uuid.error();
  for (auto it = snaps->rbegin(); it != snaps->rend(); ++it) {
    if (it->state == storage::MirrorSnapshotState::primary_demoted) {
      return storage::MirrorSnapshotRef{*uuid, it->id};
    }
  }
  return fail(Errc::failed_precondition,
              "rbd image '" + storage::to_string(image) +
                  "' is not primary here and was not demoted here: the DR site may already "
                  "have promoted it");
}

// Whether the peer may reach `image` for this app: one of the app's pairs' images here (else
// not_found), and with `stopped`, only while the app is stopped here (the role change's actions;
// else failed_precondition).
Status check_image(ProductionSite& site, const std::string& app_id,
                   const storage::ImageSpec& image, bool stopped) {
  auto app = site.store.get_app(app_id);
  if (!app) return app.error();
  auto pairs = site.store.mirror_pairs(app_id);
  if (!pairs) return pairs.error();
  const bool found = std::any_of(pairs->begin(), pairs->end(), [&](const auto& p) {
    return spec(p.source) == image;
  });
  if (!found) {
    return fail(Errc::not_found, "rbd image '" + storage::to_string(image) +
                                     "' is not one of app '" + app_id + "''s images here");
  }
  if (stopped && app->state != state::AppState::failing_over &&
      app->state != state::AppState::failed_over) {
    return fail(Errc::failed_precondition,
                "app '" + app_id + "' is " + to_string(app->state) +
                    " here: its images change roles only after it is stopped (POST "
                    "/v1/peer/apps/" + app_id + "/stop, the first step of a planned failover)");
  }
  return {};
}

}  // namespace

Result<std::vector<virt::DomainStatus>> app_domains(virt::Hypervisor& hypervisor,
                                                    const std::string& app_id) {
  auto members = hypervisor.list_members();
  if (!members) return members.error();
  std::vector<virt::DomainStatus> out;
  for (const auto& [status, membership] : *members) {
    if (membership && membership->app_id == app_id) out.push_back(status);
  }
  return out;
}

Result<api::ProductionAppView> production_view(ProductionSite& site, const std::string& app_id) {
  auto app = site.store.get_app(app_id);
  if (!app) return app.error();
  auto pairs = site.store.mirror_pairs(app_id);
  if (!pairs) return pairs.error();
  api::ProductionAppView view{app_id, app->state, app->generation, {}, 0};
  for (const auto& p : *pairs) {
    auto info = site.storage.mirror_info(spec(p.source));
    if (!info) return info.error();
    view.images.push_back({spec(p.source), info->role});
  }
  auto domains = app_domains(site.hypervisor, app_id);
  if (!domains) return domains.error();
  for (const auto& d : *domains) view.vms_running += d.state == virt::DomainState::running;
  return view;
}

Result<api::ProductionAppView> stop_app(ProductionSite& site, const std::string& app_id) {
  auto app = site.store.get_app(app_id);
  if (!app) return app.error();
  // Out of protection first, so no mirror snapshot or re-capture starts while the VMs stop.
  if (app->state != state::AppState::failed_over) {
    if (auto s = set_app_state(site.store, app_id, state::AppState::failing_over); !s) return s.error();
  }
  if (auto s = stop_vms(site, app_id); !s) return s.error();
  return production_view(site, app_id);
}

Result<api::ImageEnd> image_end(ProductionSite& site, const std::string& app_id,
                                const storage::ImageSpec& image) {
  if (auto s = check_image(site, app_id, image, false); !s) return s.error();
  auto side = storage::observe_side(site.storage, image);
  if (!side) return side.error();
  return api::ImageEnd{image, std::move(*side)};
}

Result<api::ImageSnapshot> snapshot_image(ProductionSite& site, const std::string& app_id,
                                          const storage::ImageSpec& image) {
  if (auto s = check_image(site, app_id, image, true); !s) return s.error();
  auto ref = site.storage.create_mirror_snapshot(image);
  if (!ref) return ref.error();
  if (site.snapshot_taken) site.snapshot_taken(app_id, storage::to_string(image));
  return api::ImageSnapshot{image, std::move(*ref)};
}

Result<api::ImageSnapshot> demote_image(ProductionSite& site, const std::string& app_id,
                                        const storage::ImageSpec& image) {
  if (auto s = check_image(site, app_id, image, true); !s) return s.error();
  auto ref = demote_once(site.storage, image);
  if (!ref) return ref.error();
  return api::ImageSnapshot{image, std::move(*ref)};
}

Result<api::ImageEnd> promote_image(ProductionSite& site, const std::string& app_id,
                                    const storage::ImageSpec& image) {
  if (auto s = check_image(site, app_id, image, true); !s) return s.error();
  auto info = site.storage.mirror_info(image);
  if (!info) return info.error();
  if (info->role != storage::ImageRole::primary) {
    if (auto s = site.storage.promote(image, storage::Promotion::planned); !s) return s.error();
  }
  return image_end(site, app_id, image);
}

Result<api::ProductionAppView> release_app(ProductionSite& site, const std::string& app_id) {
  auto view = production_view(site, app_id);
  if (!view) return view.error();
  if (view->primary_images() > 0 || view->vms_running > 0) {
    return fail(Errc::failed_precondition,
                "app '" + app_id + "' still holds " + std::to_string(view->primary_images()) +
                    " primary image(s) and " + std::to_string(view->vms_running) +
                    " running VM(s) here: it is released only when it holds none");
  }
  if (view->state != state::AppState::failed_over) {
    if (auto s = set_app_state(site.store, app_id, state::AppState::failed_over); !s) {
      return s.error();
    }
    view->state = state::AppState::failed_over;
  }
  return view;
}

}  // namespace dr::workflow
