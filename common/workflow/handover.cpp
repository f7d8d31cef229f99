#include "workflow/handover.hpp"

#include <algorithm>
#include <array>
#include <span>
#include <chrono>
#include <limits>
#include <map>
#include <optional>
#include <thread>

#include "storage/role_change.hpp"
#include "workflow/app_records.hpp"
#include "workflow/restore.hpp"

namespace dr::workflow {
namespace {

using Clock = std::chrono::steady_clock;

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

// The states in which the peer may act on the app's images here: stopped for a planned failover
// (failing_over, failed_over), or the DR site's replica (protected_reverse) for a failback.
constexpr std::array kStopped = {state::AppState::failing_over, state::AppState::failed_over,
                                 state::AppState::protected_reverse};

// Whether the peer may reach `image` for this app: one of the app's pairs' images here (else
// not_found), and with `allowed` given, only while the app is in one of those states (else
// failed_precondition, naming what to do).
Status check_image(ProductionSite& site, const std::string& app_id,
                   const storage::ImageSpec& image, std::span<const state::AppState> allowed) {
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
  if (!allowed.empty() &&
      std::find(allowed.begin(), allowed.end(), app->state) == allowed.end()) {
    return fail(Errc::failed_precondition,
                "app '" + app_id + "' is " + to_string(app->state) + " at " + site.site_name +
                    ": its images change roles only after it is stopped here (POST "
                    "/v1/peer/apps/" + app_id + "/stop, the first step of a planned failover) "
                    "or while it is the DR site's replica here (protected_reverse)");
  }
  return {};
}

// Whether the app is in one of `allowed` here (else failed_precondition saying `doing`).
Result<state::AppRecord> app_in(ProductionSite& site, const std::string& app_id,
                                std::initializer_list<state::AppState> allowed,
                                const std::string& doing) {
  auto app = site.store.get_app(app_id);
  if (!app) return app.error();
  if (std::find(allowed.begin(), allowed.end(), app->state) == allowed.end()) {
    std::string names;
    for (auto a : allowed) names += std::string(names.empty() ? "" : " or ") + to_string(a);
    return fail(Errc::failed_precondition, "app '" + app_id + "' is " + to_string(app->state) +
                                               " at " + site.site_name + ": " + doing +
                                               " needs it " + names);
  }
  return app;
}

// With no image of the app primary and none of its VMs running here, the app moves to `to`;
// otherwise failed_precondition naming what it still holds, and `rule`.
Result<api::ProductionAppView> settle_empty(ProductionSite& site, const std::string& app_id,
                                            state::AppState to, const std::string& rule);

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

Status stop_app_vms(virt::Hypervisor& hypervisor, const std::string& app_id,
                    std::chrono::seconds timeout, const std::function<void(std::string_view)>& log) {
  auto domains = app_domains(hypervisor, app_id);
  if (!domains) return domains.error();
  std::vector<std::string> vms;
  for (const auto& d : *domains) {
    if (d.state == virt::DomainState::running) vms.push_back(d.name);
  }
  if (vms.empty()) return {};
  if (timeout.count() > 0) {
    for (const auto& name : vms) {
      if (auto s = hypervisor.shutdown_domain(name);
          !s && s.error().code != Errc::failed_precondition) {
        return with_context(s.error(), "shut down vm '" + name + "'");
      }
    }
    if (log) {
      log("stop " + app_id + ": asked " + std::to_string(vms.size()) +
               " vm(s) to shut down (up to " + std::to_string(timeout.count()) + " s)");
    }
    const auto deadline = Clock::now() + timeout;
    while (!vms.empty() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      std::erase_if(vms, [&](const std::string& name) {  // keep those still running
        auto status = hypervisor.domain_status(name);
        return status ? status->state != virt::DomainState::running
                      : status.error().code == Errc::not_found;
      });
    }
  }
  for (const auto& name : vms) {
    if (auto s = hypervisor.destroy_domain(name);
        !s && s.error().code != Errc::failed_precondition) {
      return with_context(s.error(), "power off vm '" + name + "'");
    }
    if (log) {
      log("stop " + app_id + ": vm " + name +
               (timeout.count() > 0 ? " did not shut down in time: powered off"
                                    : ": powered off"));
    }
  }
  return {};
}

Result<api::ProductionAppView> production_view(ProductionSite& site, const std::string& app_id) {
  auto app = site.store.get_app(app_id);
  if (!app) return app.error();
  auto pairs = site.store.mirror_pairs(app_id);
  if (!pairs) return pairs.error();
  api::ProductionAppView view{app_id, app->state, app->generation, {}, 0};
  for (const auto& p : *pairs) {
    auto info = site.storage.mirror_info(spec(p.source));
    // Not there: a disk added at the DR site that rbd-mirror has not copied here yet.
    if (!info && info.error().code != Errc::not_found) return info.error();
    view.images.push_back({spec(p.source), info ? info->role : storage::ImageRole::not_mirrored});
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
  if (auto s = stop_app_vms(site.hypervisor, app_id, site.shutdown_timeout, site.log); !s) {
    return s.error();
  }
  return production_view(site, app_id);
}

Result<api::ImageEnd> image_end(ProductionSite& site, const std::string& app_id,
                                const storage::ImageSpec& image) {
  if (auto s = check_image(site, app_id, image, {}); !s) return s.error();
  auto side = storage::observe_side(site.storage, image);
  if (!side) return side.error();
  return api::ImageEnd{image, std::move(*side)};
}

Result<api::ImageSnapshot> snapshot_image(ProductionSite& site, const std::string& app_id,
                                          const storage::ImageSpec& image) {
  if (auto s = check_image(site, app_id, image, kStopped); !s) return s.error();
  auto ref = site.storage.create_mirror_snapshot(image);
  if (!ref) return ref.error();
  if (site.snapshot_taken) site.snapshot_taken(app_id, storage::to_string(image));
  return api::ImageSnapshot{image, std::move(*ref)};
}

Result<api::ImageSnapshot> demote_image(ProductionSite& site, const std::string& app_id,
                                        const storage::ImageSpec& image) {
  if (auto s = check_image(site, app_id, image, kStopped); !s) return s.error();
  auto ref = demote_once(site.storage, image);
  if (!ref) return ref.error();
  return api::ImageSnapshot{image, std::move(*ref)};
}

Result<api::ImageEnd> promote_image(ProductionSite& site, const std::string& app_id,
                                    const storage::ImageSpec& image) {
  if (auto s = check_image(site, app_id, image, kStopped); !s) return s.error();
  auto info = site.storage.mirror_info(image);
  if (!info) return info.error();
  if (info->role != storage::ImageRole::primary) {
    if (auto s = site.storage.promote(image, storage::Promotion::planned); !s) return s.error();
  }
  return image_end(site, app_id, image);
}

namespace {

Result<api::ProductionAppView> settle_empty(ProductionSite& site, const std::string& app_id,
                                            state::AppState to, const std::string& rule) {
  auto view = production_view(site, app_id);
  if (!view) return view.error();
  if (view->primary_images() > 0 || view->vms_running > 0) {
    return fail(Errc::failed_precondition,
                "app '" + app_id + "' still holds " + std::to_string(view->primary_images()) +
                    " primary image(s) and " + std::to_string(view->vms_running) +
                    " running VM(s) at " + site.site_name + ": " + rule);
  }
  if (view->state != to) {
    if (auto s = set_app_state(site.store, app_id, to); !s) return s.error();
    view->state = to;
  }
  return view;
}

}  // namespace

Result<api::ProductionAppView> release_app(ProductionSite& site, const std::string& app_id) {
  return settle_empty(site, app_id, state::AppState::failed_over,
                      "it is released only when it holds none");
}

Result<api::ImageEnd> resync_image(ProductionSite& site, const std::string& app_id,
                                   const storage::ImageSpec& image) {
  static constexpr std::array kFenced = {state::AppState::failed_over,
                                         state::AppState::protected_reverse};
  if (auto s = check_image(site, app_id, image, kFenced); !s) return s.error();
  if (auto s = site.storage.resync(image); !s) return s.error();
  if (site.log) {
    site.log("app " + app_id + ": rbd image " + storage::to_string(image) +
             " resynced from " + site.peer_site + " (its writes here since its last replicated "
             "snapshot are discarded)");
  }
  // rbd-mirror deletes and copies the image again: it may be gone for a while.
  auto side = storage::observe_side(site.storage, image);
  if (!side && side.error().code != Errc::not_found) return side.error();
  return api::ImageEnd{image, side ? std::move(*side) : storage::PairSide{}};
}

Result<api::ProductionAppView> reverse_app(ProductionSite& site, const std::string& app_id) {
  auto app = app_in(site, app_id, {state::AppState::failed_over, state::AppState::protected_reverse},
                    "becoming " + site.peer_site + "'s replica");
  if (!app) return app.error();
  auto view = settle_empty(site, app_id, state::AppState::protected_reverse,
                           "it becomes the replica only when it holds none (its fence demotes "
                           "and powers off)");
  if (view && app->state != state::AppState::protected_reverse && site.log) {
    site.log("app " + app_id + " is " + site.peer_site + "'s replica here now");
  }
  return view;
}

Result<api::ProductionAppView> pair_images(ProductionSite& site, const std::string& app_id,
                                           const api::PairImages& request) {
  auto app = app_in(site, app_id, {state::AppState::failed_over, state::AppState::protected_reverse},
                    "pairing images added at " + site.peer_site);
  if (!app) return app.error();
  auto pairs = site.store.mirror_pairs(app_id);
  if (!pairs) return pairs.error();
  auto apps = site.store.list_apps();
  if (!apps) return apps.error();
  auto added = *pairs;
  for (const auto& image : request.images) {
    const auto ours = std::any_of(pairs->begin(), pairs->end(),
                                  [&](const auto& p) { return spec(p.source) == image; });
    if (ours) continue;
    for (const auto& other : *apps) {
      if (other.id == app_id) continue;
      auto theirs = site.store.mirror_pairs(other.id);
      if (!theirs) return theirs.error();
      for (const auto& p : *theirs) {
        if (spec(p.source) == image) {
          return fail(Errc::failed_precondition, "rbd image '" + storage::to_string(image) +
                                                     "' is one of app '" + other.id +
                                                     "''s images at " + site.site_name);
        }
      }
    }
    // A disk added at the DR site: a copy of its image there, or not copied here yet.
    auto info = site.storage.mirror_info(image);
    if (!info && info.error().code != Errc::not_found) return info.error();
    if (info && info->role == storage::ImageRole::primary) {
      return fail(Errc::failed_precondition,
                  "rbd image '" + storage::to_string(image) + "' is primary at " + site.site_name +
                      ": it is this site's own, not a disk added at " + site.peer_site);
    }
    added.push_back(added_pair(app_id, image, *pairs));
    if (site.log) {
      site.log("app " + app_id + ": rbd image " + storage::to_string(image) + ", added at " +
               site.peer_site + ", paired here");
    }
  }
  if (added.size() != pairs->size()) {
    if (auto s = site.store.replace_mirror_pairs(app_id, added); !s) return s.error();
  }
  return production_view(site, app_id);
}

Status start_app_vms(virt::Hypervisor& hypervisor, const std::string& app_id,
                     std::chrono::seconds timeout) {
  auto members = hypervisor.list_members();
  if (!members) return members.error();
  std::map<int, std::vector<std::string>> groups;  // boot order ascending; none: last
  for (const auto& [status, membership] : *members) {
    if (!membership || membership->app_id != app_id) continue;
    groups[membership->boot_order.value_or(std::numeric_limits<int>::max())].push_back(
        status.name);
  }
  for (const auto& [order, names] : groups) {
    for (const auto& name : names) {  // ask the whole group at once, then wait for each
      auto status = hypervisor.domain_status(name);
      if (!status) return status.error();
      if (status->state == virt::DomainState::running) continue;
      if (auto s = hypervisor.start_domain(name);
          !s && s.error().code != Errc::failed_precondition) {
        return with_context(s.error(), "start vm '" + name + "'");
      }
    }
    for (const auto& name : names) {
      if (auto s = start_and_wait(hypervisor, name, timeout); !s) return s.error();
    }
  }
  return {};
}

// Attaches each disk added at the DR site to its VM's domain here (persistently; the domain is
// shut off): an image of the app's pairs, through this site's Ceph access. A disk already
// attached is left as it is.
Status attach_added(ProductionSite& site, const std::string& app_id,
                    const std::vector<api::AddedDisk>& disks) {
  if (disks.empty()) return {};
  if (site.config == nullptr) {
    return fail(Errc::failed_precondition,
                site.site_name + " has no site config: disks added at " + site.peer_site +
                    " cannot be attached here");
  }
  auto pairs = site.store.mirror_pairs(app_id);
  if (!pairs) return pairs.error();
  auto domains = app_domains(site.hypervisor, app_id);
  if (!domains) return domains.error();
  for (const auto& d : disks) {
    const bool paired = std::any_of(pairs->begin(), pairs->end(),
                                    [&](const auto& p) { return spec(p.source) == d.image; });
    if (!paired) {
      return fail(Errc::failed_precondition, "rbd image '" + storage::to_string(d.image) +
                                                 "' is not one of app '" + app_id +
                                                 "''s images here: reprotect pairs it first");
    }
    const bool ours = std::any_of(domains->begin(), domains->end(),
                                  [&](const auto& dom) { return dom.name == d.vm; });
    if (!ours) {
      return fail(Errc::not_found, "vm '" + d.vm + "' is not one of app '" + app_id +
                                       "''s domains at " + site.site_name);
    }
    auto def = site.hypervisor.get_domain(d.vm);
    if (!def) return def.error();
    bool attached = false;
    for (const auto& disk : def->disks) {
      if (disk.rbd && disk.pool == d.image.pool && disk.image == d.image.image) attached = true;
      if (!attached && disk.target == d.target) {
        return fail(Errc::failed_precondition,
                    "vm '" + d.vm + "' at " + site.site_name + " has another disk as " + d.target +
                        ": rbd image '" + storage::to_string(d.image) + "' cannot be attached");
      }
    }
    if (attached) continue;
    const auto disk =
        virt::rbd_disk(site.config->ceph, d.image.pool, d.image.image, d.target, d.bus);
    if (auto s = site.hypervisor.attach_disk(d.vm, disk); !s) {
      return with_context(s.error(), "attach rbd image '" + storage::to_string(d.image) +
                                         "' to vm '" + d.vm + "'");
    }
    if (site.log) {
      site.log("app " + app_id + ": rbd image " + storage::to_string(d.image) + " attached to vm " +
               d.vm + " as " + d.target + " (added at " + site.peer_site + ")");
    }
  }
  return {};
}

Result<api::ProductionAppView> start_app(ProductionSite& site, const std::string& app_id,
                                         const api::StartRequest& request) {
  auto app = app_in(site, app_id, {state::AppState::protected_reverse, state::AppState::protected_},
                    "starting after a failback");
  if (!app) return app.error();
  auto view = production_view(site, app_id);
  if (!view) return view.error();
  const auto primary = view->primary_images();
  if (primary != static_cast<int>(view->images.size())) {
    return fail(Errc::failed_precondition,
                "app '" + app_id + "' has " + std::to_string(view->images.size() - primary) +
                    " image(s) not primary at " + site.site_name +
                    ": its VMs start only once every image is (the failback promotes them)");
  }
  if (auto s = attach_added(site, app_id, request.added_disks); !s) return s.error();
  const auto timeout = std::chrono::seconds(site.config ? site.config->start_timeout_seconds : 120);
  if (auto s = start_app_vms(site.hypervisor, app_id, timeout); !s) return s.error();
  if (app->state != state::AppState::protected_) {
    if (auto s = set_app_state(site.store, app_id, state::AppState::protected_); !s) {
      return s.error();
    }
    if (site.log) {
      site.log("app " + app_id + " failed back: it runs here and is protected to " +
               site.peer_site + " again");
    }
  }
  return production_view(site, app_id);
}

std::optional<std::string> fence_reason(const api::DrAppView& dr, state::AppState here,
                                        const std::string& dr_site) {
  using S = state::AppState;
  const bool believes_primary = here == S::protected_ || here == S::protecting || here == S::failed;
  const bool runs_there =
      dr.state == S::failed_over || dr.state == S::reprotecting || dr.state == S::protected_reverse;
  if (!believes_primary || !runs_there) return std::nullopt;
  return "app '" + dr.app + "' is " + to_string(dr.state) + " at " + dr_site +
         " (it failed over while this site was away): it runs there, so here it is fenced";
}

Status run_fence(ProductionSite& site, const std::string& app_id, Steps& steps) {
  auto checked = steps.run("ask-dr", [&]() -> Result<nlohmann::json> {
    auto dr = site.peer.app(app_id);
    if (!dr) {
      return with_context(dr.error(), "asking " + site.peer_site + " about app '" + app_id + "'");
    }
    auto app = site.store.get_app(app_id);
    if (!app) return app.error();
    auto reason = fence_reason(*dr, app->state, site.peer_site);
    if (!reason) {
      return fail(Errc::failed_precondition,
                  "app '" + app_id + "' is " + to_string(app->state) + " here and " +
                      to_string(dr->state) + " at " + site.peer_site + ": nothing to fence");
    }
    return ok({{"drState", to_string(dr->state)},
               {"reason", *reason}});
  });
  if (!checked) return checked.error();
  if (site.log) site.log("fence: " + checked->value("reason", std::string()));
  return owning(site.store, app_id, steps, state::AppState::failing_over,
                state::AppState::failed_over, [&]() -> Status {
    auto off = steps.run("power-off", [&]() -> Result<nlohmann::json> {
      // Powered off at once: what these VMs would write is discarded by the reprotect anyway.
      if (auto s = stop_app_vms(site.hypervisor, app_id, std::chrono::seconds(0), site.log); !s) {
        return s.error();
      }
      return ok();
    });
    if (!off) return off.error();
    auto pairs = site.store.mirror_pairs(app_id);
    if (!pairs) return pairs.error();
    for (const auto& p : *pairs) {
      auto demoted = steps.run("demote:" + image_name(p.source), [&]() -> Result<nlohmann::json> {
        auto info = site.storage.mirror_info(spec(p.source));
        if (!info) return info.error();
        if (info->role != storage::ImageRole::primary) {
          return ok({{"role", storage::to_string(info->role)}});
        }
        auto d = site.storage.demote(spec(p.source));
        if (!d) return d.error();
        return ok({{"demotion", d->snap_id}});
      });
      if (!demoted) return demoted.error();
    }
    return {};
  });
}

}  // namespace dr::workflow
