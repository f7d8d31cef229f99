#include "workflow/handover.hpp"

#include <algorithm>
#include <array>
#include <span>
#include <chrono>
#include <limits>
#include <map>
#include <optional>
#include <set>
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
  for (const auto& [status, membership, broken] : *members) {
    if (virt::is_app_vm(membership, app_id)) out.push_back(status);
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
    // rbd-mirror copies into an RBD namespace only where it exists and mirrors: made here if
    // the image is in one this site lacks (its pool mirrors already).
    if (auto s = site.storage.enable_pool_mirroring(image.pool); !s) return s.error();
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
  for (const auto& [status, membership, broken] : *members) {
    if (!virt::is_app_vm(membership, app_id)) continue;
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

// Brings home what changed in the app at the DR site (api::StartRequest): each VM added there
// defined here (this site's domain type and console log, the app's membership), then each VM's
// added disks (an image of the app's pairs, through this site's Ceph access) and NICs (on the app's
// network of that id, as this site's first description of the app places it) added in one
// redefinition of its domain. What is there already (the domain, a disk of that image, a NIC of
// that MAC) is left as it is, so a call resumed after a cut does nothing twice.
Status carry_home(ProductionSite& site, const state::AppRecord& app,
                  const api::StartRequest& request) {
  if (request.empty()) return {};
  const std::string& app_id = app.id;
  if (site.config == nullptr) {
    return fail(Errc::failed_precondition,
                site.site_name + " has no site config: what was added to app '" + app_id +
                    "' at " + site.peer_site + " cannot be brought home");
  }
  auto pairs = site.store.mirror_pairs(app_id);
  if (!pairs) return pairs.error();
  auto first = stored_first(site.store, app_id, app.generation);
  if (!first) return first.error();
  auto members = site.hypervisor.list_members();
  if (!members) return members.error();
  std::set<std::string> ours;       // the app's domains here
  std::set<std::string> theirs;     // domains of anything else
  for (const auto& [status, membership, broken] : *members) {
    (virt::is_app_vm(membership, app_id) ? ours : theirs).insert(status.name);
  }
  for (const auto& vm : request.added_vms) {
    if (ours.count(vm.name) != 0) continue;
    if (theirs.count(vm.name) != 0) {
      return fail(Errc::failed_precondition,
                  "vm '" + vm.name + "', added to app '" + app_id + "' at " + site.peer_site +
                      ", cannot come home: a domain of that name at " + site.site_name +
                      " is not the app's; rename or remove it, then fail back again");
    }
    virt::DomainDef def;
    def.name = vm.name;
    def.uuid = vm.uuid;
    def.type = site.config->domain_type;
    def.vcpus = vm.vcpus;
    def.memory_mib = vm.memory_mib;
    if (site.config->console_log_dir) {
      def.serial_log = *site.config->console_log_dir + "/" + vm.name + ".log";
    }
    virt::Membership m;
    m.app_id = app_id;
    m.app_name = first->app.name;
    m.generation = app.generation;
    m.boot_order = vm.boot_order;
    def.membership = std::move(m);
    if (auto defined = site.hypervisor.define_domain(def); !defined) {
      return with_context(defined.error(), "define vm '" + vm.name + "' (added at " +
                                               site.peer_site + ")");
    }
    ours.insert(vm.name);
    if (site.log) {
      site.log("app " + app_id + ": vm " + vm.name + " defined (added at " + site.peer_site + ")");
    }
  }
  // What each VM gains, by VM.
  std::map<std::string, std::pair<std::vector<virt::DiskDef>, std::vector<virt::NicDef>>> gains;
  for (const auto& d : request.added_disks) {
    const bool paired = std::any_of(pairs->begin(), pairs->end(),
                                    [&](const auto& p) { return spec(p.source) == d.image; });
    if (!paired) {
      return fail(Errc::failed_precondition, "rbd image '" + storage::to_string(d.image) +
                                                 "' is not one of app '" + app_id +
                                                 "''s images here: reprotect pairs it first");
    }
    gains[d.vm].first.push_back(
        virt::rbd_disk(site.config->ceph, described(d.image), d.target, d.bus));
  }
  for (const auto& n : request.added_nics) {
    const auto net = std::find_if(first->networks.begin(), first->networks.end(),
                                  [&](const model::SourceNetwork& s) { return s.id == n.network; });
    if (net == first->networks.end()) {
      return fail(Errc::not_found, "NIC " + n.mac + " of vm '" + n.vm + "': network '" +
                                       n.network + "' is not one of app '" + app_id +
                                       "''s networks at " + site.site_name);
    }
    virt::NicDef nic;
    nic.mac = n.mac;
    nic.network = net->switch_name;
    nic.portgroup = net->portgroup;
    nic.model = n.model;
    gains[n.vm].second.push_back(std::move(nic));
  }
  for (auto& [vm, gain] : gains) {
    if (ours.count(vm) == 0) {
      return fail(Errc::not_found,
                  "vm '" + vm + "' is not one of app '" + app_id + "''s domains at " + site.site_name);
    }
    auto def = site.hypervisor.get_domain(vm);
    if (!def) return def.error();
    auto& [disks, nics] = gain;
    std::erase_if(disks, [&](const virt::DiskDef& d) {
      return std::any_of(def->disks.begin(), def->disks.end(), [&](const virt::DiskDef& there) {
        return there.rbd && model::image_text(there) == model::image_text(d);
      });
    });
    std::erase_if(nics, [&](const virt::NicDef& n) {
      return std::any_of(def->nics.begin(), def->nics.end(),
                         [&](const virt::NicDef& there) { return there.mac == n.mac; });
    });
    for (const auto& d : disks) {
      for (const auto& there : def->disks) {
        if (there.target != d.target) continue;
        return fail(Errc::failed_precondition,
                    "vm '" + vm + "' at " + site.site_name + " has another disk as " + d.target +
                        ": rbd image '" + model::image_text(d) + "' cannot be attached");
      }
    }
    if (disks.empty() && nics.empty()) continue;
    if (auto s = site.hypervisor.add_devices(vm, disks, nics); !s) {
      return with_context(s.error(), "add what was added at " + site.peer_site + " to vm '" +
                                         vm + "'");
    }
    if (site.log) {
      std::string what;
      for (const auto& d : disks) what += " disk " + model::image_text(d) + " as " + d.target + ",";
      for (const auto& n : nics) {
        what += " NIC " + n.mac + " on " + n.network + (n.portgroup ? "/" + *n.portgroup : "") + ",";
      }
      what.pop_back();
      site.log("app " + app_id + ": vm " + vm + " gained" + what + " (added at " +
               site.peer_site + ")");
    }
  }
  // The added NICs' declared addresses, declared here too (a NIC's earlier entry replaced).
  std::map<std::string, std::vector<virt::DeclaredNic>> addresses;  // vm -> its declarations
  for (const auto& n : request.added_nics) {
    if (n.ip) addresses[n.vm].push_back({n.mac, *n.ip});
  }
  for (const auto& [vm, declared] : addresses) {
    auto def = site.hypervisor.get_domain(vm);
    if (!def) return def.error();
    if (!def->membership) continue;  // not the app's: refused above
    virt::Membership m = *def->membership;
    bool changed = false;
    for (const auto& d : declared) {
      const auto there = std::find_if(m.nics.begin(), m.nics.end(),
                                      [&](const virt::DeclaredNic& x) { return x.mac == d.mac; });
      if (there == m.nics.end()) {
        m.nics.push_back(d);
      } else if (there->ip != d.ip) {
        there->ip = d.ip;
      } else {
        continue;
      }
      changed = true;
    }
    if (!changed) continue;
    if (auto s = site.hypervisor.set_membership(vm, m); !s) {
      return with_context(s.error(), "declare the addresses of the NICs added to vm '" + vm +
                                         "' at " + site.peer_site);
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
  if (auto s = carry_home(site, *app, request); !s) return s.error();
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
