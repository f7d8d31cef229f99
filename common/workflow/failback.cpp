#include "workflow/failback.hpp"

#include <chrono>
#include <algorithm>
#include <map>
#include <set>
#include <string_view>

#include "model/net_address.hpp"
#include "model/problem.hpp"
#include "storage/role_change.hpp"
#include "workflow/app_records.hpp"
#include "workflow/handover.hpp"
#include "workflow/parallel.hpp"
#include "workflow/peer_end.hpp"
#include "workflow/restore.hpp"

namespace dr::workflow {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using state::AppState;

// The production site must answer and hold the app as the job needs it: fenced for a reprotect
// (failed_over or protected_reverse, nothing primary, nothing running), the replica for a failback
// (protected_reverse with nothing running, or protected: a failback resumed after it started).
Result<json> check_production(FailoverSite& site, const std::string& app_id, bool failback) {
  auto view = site.fence_peer.app(app_id);
  const std::string job = failback ? "failback" : "reprotect";
  if (!view) {
    const auto code = view.error().code;
    if (code == Errc::unavailable || code == Errc::deadline_exceeded) {
      return fail(Errc::failed_precondition,
                  job + " of app '" + app_id + "' needs " + site.peer_site +
                      " up: its production agent does not answer (" + view.error().message +
                      "); bring that site back (its agent fences the app when it starts)");
    }
    return with_context(view.error(), job + " of app '" + app_id + "': asking " + site.peer_site);
  }
  const int primary = view->primary_images();
  const int running = view->vms_running;
  const bool fenced_state = view->state == AppState::failed_over ||
                            view->state == AppState::protected_reverse;
  if (!failback) {
    if (!fenced_state || primary > 0 || running > 0) {
      return fail(Errc::failed_precondition,
                  "reprotect of app '" + app_id + "': " + site.peer_site + " has not fenced it yet (" +
                      to_string(view->state) + " there, " + std::to_string(primary) +
                      " image(s) primary, " + std::to_string(running) +
                      " VM(s) running); its production agent fences it within seconds of reaching "
                      "this site: try again then");
    }
  } else if (view->state != AppState::protected_reverse && view->state != AppState::protected_) {
    return fail(Errc::failed_precondition,
                "failback of app '" + app_id + "': " + site.peer_site + " holds it " +
                    to_string(view->state) + ", not as this site's replica (protected_reverse); "
                    "reprotect it first");
  } else if (view->state == AppState::protected_reverse && running > 0) {
    return fail(Errc::failed_precondition,
                "failback of app '" + app_id + "': " + std::to_string(running) +
                    " of its VMs run at " + site.peer_site +
                    " although it is the replica there: power them off first");
  }
  return ok(api::to_json(*view));
}

// The check-production step. A refusal changes nothing (the app keeps its state), unless an
// earlier run of the job had taken the app over: then it is failed with the refusal.
Status checked_production(FailoverSite& site, const state::AppRecord& app, Steps& steps,
                          bool failback) {
  auto checked =
      steps.run("check-production", [&] { return check_production(site, app.id, failback); });
  if (checked) return {};
  const auto owned = failback ? AppState::failing_back : AppState::reprotecting;
  if (app.state == owned) (void)set_app_state(site.store, app.id, AppState::failed, checked.error());
  return checked.error();
}

// The app's newest failover job (the one that brought it here), if any.
Result<std::optional<state::JobId>> last_failover(state::StateStore& store,
                                                  const std::string& app_id) {
  auto jobs = store.list_jobs(app_id);
  if (!jobs) return jobs.error();
  std::optional<state::JobId> found;
  for (const auto& j : *jobs) {
    if (j.type == state::JobType::failover_planned ||
        j.type == state::JobType::failover_disaster) {
      found = std::max(found.value_or(j.id), j.id);
    }
  }
  return found;
}

// What each image here held of the production site when a disaster failover promoted it by
// force (its promote step's lastSynced), by image name.
std::map<std::string, storage::MirrorSnapshotRef> synced_before_promote(FailoverSite& site,
                                                                       const std::string& app_id) {
  std::map<std::string, storage::MirrorSnapshotRef> out;
  auto job = last_failover(site.store, app_id);
  if (!job || !*job) return out;
  StoreJournal journal(site.store, **job);
  auto entries = journal.entries();
  if (!entries) return out;
  for (const auto& e : *entries) {
    if (!e.name.starts_with("promote:") || e.state != state::StepState::done) continue;
    const auto& synced = e.detail.value("lastSynced", json());
    if (!synced.is_object()) continue;
    out[e.name.substr(std::string_view("promote:").size())] = {
        synced.value("mirrorUuid", ""), synced.value("snapId", std::uint64_t{0})};
  }
  return out;
}

// The VMs added here that a failback brought home: their domains here are undefined (the
// production site holds them now; their disks stay, replicas again). Only domains of the app that
// no restore made; one gone already is skipped. Answers the names removed.
Result<std::vector<std::string>> remove_carried_home(virt::Hypervisor& hypervisor,
                                                     const std::string& app_id,
                                                     const std::vector<api::AddedVm>& vms) {
  std::vector<std::string> removed;
  for (const auto& vm : vms) {
    auto def = hypervisor.get_domain(vm.name);
    if (!def && def.error().code == Errc::not_found) continue;
    if (!def) return def.error();
    if (!def->membership || def->membership->app_id != app_id || def->membership->source_site) {
      continue;  // not the domain that came home
    }
    auto status = hypervisor.domain_status(vm.name);
    if (!status) return status.error();
    if (status->state != virt::DomainState::shutoff) {
      if (auto s = hypervisor.destroy_domain(vm.name);
          !s && s.error().code != Errc::failed_precondition) {
        return s.error();
      }
    }
    if (auto s = hypervisor.undefine_domain(vm.name); !s && s.error().code != Errc::not_found) {
      return s.error();
    }
    removed.push_back(vm.name);
  }
  return removed;
}

// The added disks a journaled step recorded (api::StartRequest's shape).
std::vector<api::AddedDisk> disks_of(const json& detail) {
  auto parsed = api::read_start_request(detail);
  return parsed ? parsed->added_disks : std::vector<api::AddedDisk>{};
}

bool paired(const std::vector<state::MirrorPairRecord>& pairs, const storage::ImageSpec& image) {
  return std::any_of(pairs.begin(), pairs.end(),
                     [&](const auto& p) { return spec(p.target) == image; });
}

// The app's networks here by where they live, (switch, portgroup) -> the production site's
// network ids (the second description's sources): from the second description and from what
// restores declared in their domains' metadata (where each network was bound).
using NetworkKey = std::pair<std::string, std::optional<std::string>>;
std::map<NetworkKey, std::set<std::string>> networks_here(
    const model::SecondDescription& second, const std::vector<virt::DomainDef>& restored) {
  std::map<NetworkKey, std::set<std::string>> out;
  std::map<std::string, std::string> source_of;  // backup network id -> source id
  for (const auto& n : second.networks) {
    source_of[n.id] = n.source;
    out[{n.switch_name, n.portgroup}].insert(n.source);
  }
  for (const auto& def : restored) {
    if (!def.membership) continue;
    for (const auto& d : def.membership->networks) {
      const auto it = d.id ? source_of.find(*d.id) : source_of.end();
      if (it != source_of.end()) out[{d.switch_name, d.portgroup}].insert(it->second);
    }
  }
  return out;
}

std::string place(const std::string& sw, const std::optional<std::string>& pg) {
  return "network '" + sw + "'" + (pg ? " portgroup '" + *pg + "'" : std::string());
}

// An address declared here, as it is at the production site on source network `source_id`: moved
// from the backup network's subnet that holds it into the source network's subnet of the same
// index (the mapping keeps subnets in order, and `ip: translate` moved them that way); kept when
// none holds it or the host part does not fit (the mapping would have refused that).
std::string address_home(const std::string& ip, const std::string& source_id,
                         const model::FirstDescription& first,
                         const model::SecondDescription& second) {
  const auto address = model::Ipv4::parse(ip);
  const auto source = std::find_if(first.networks.begin(), first.networks.end(),
                                   [&](const model::SourceNetwork& n) { return n.id == source_id; });
  const auto backup = std::find_if(second.networks.begin(), second.networks.end(),
                                   [&](const model::BackupNetwork& n) { return n.source == source_id; });
  if (!address || source == first.networks.end() || backup == second.networks.end()) return ip;
  const std::size_t n = std::min(source->subnets.size(), backup->subnets.size());
  for (std::size_t k = 0; k < n; ++k) {
    const auto here = model::Cidr::parse(backup->subnets[k].cidr);
    const auto home = model::Cidr::parse(source->subnets[k].cidr);
    if (!here || !home || !here->contains(*address)) continue;
    const auto moved = model::translate(*address, *here, *home);
    return moved ? moved->to_string() : ip;
  }
  return ip;
}

}  // namespace

Result<ChangesHere> changes_here(FailoverSite& site, const std::string& app_id) {
  auto app = site.store.get_app(app_id);
  if (!app) return app.error();
  auto second = stored_second(site.store, app_id, app->generation);
  if (!second) return second.error();
  auto first = stored_first(site.store, app_id, app->generation);
  if (!first) return first.error();
  std::map<std::string, std::set<std::string>> restored;  // vm -> MACs
  std::set<std::string> restored_disks;  // POOL/[NAMESPACE/]IMAGE
  for (const auto& vm : second->vms) {
    auto& macs = restored[vm.name];
    for (const auto& nic : vm.nics) macs.insert(nic.mac);
    for (const auto& d : vm.disks) restored_disks.insert(model::image_text(d));
  }
  auto domains = app_domains(site.hypervisor, app_id);
  if (!domains) return domains.error();
  std::vector<virt::DomainDef> defs;
  for (const auto& dom : *domains) {
    auto def = site.hypervisor.get_domain(dom.name);
    if (!def) return def.error();
    defs.push_back(std::move(*def));
  }
  // By name: the same changes in the same order at every run (a resumed job compares them).
  std::sort(defs.begin(), defs.end(),
            [](const virt::DomainDef& a, const virt::DomainDef& b) { return a.name < b.name; });
  const auto networks = networks_here(*second, defs);
  ChangesHere out;
  for (const auto& def : defs) {
    const auto it = restored.find(def.name);
    const bool added_vm = it == restored.end();
    const std::string vm = "vm '" + def.name + "'";
    if (added_vm) {
      out.added.added_vms.push_back({def.name, def.uuid, def.vcpus, def.memory_mib,
                                     def.membership ? def.membership->boot_order : std::nullopt});
    }
    for (const auto& d : def.disks) {
      if (!d.rbd) {
        if (d.device != "disk" && d.other_source.empty()) continue;  // an empty drive
        out.refused.push_back("disk " + d.target + " of " + vm + " is not an RBD image (" +
                              (d.other_source.empty() ? "no source" : d.other_source) +
                              "): it cannot replicate home");
        continue;
      }
      if (restored_disks.count(model::image_text(d)) != 0) continue;
      out.added.added_disks.push_back({def.name, {model::pool_spec(d), d.image}, d.target, d.bus});
    }
    for (const auto& nic : def.nics) {
      if (!added_vm && it->second.count(nic.mac) != 0) continue;
      const std::string what = "NIC " + nic.mac + " of " + vm;
      if (nic.kind != virt::NicKind::network) {
        out.refused.push_back(what + " is on " +
                              (nic.kind == virt::NicKind::bridge ? "bridge '" + nic.bridge + "'"
                                                                 : std::string("no network")) +
                              ", not on one of the app's networks here");
        continue;
      }
      const auto net = networks.find({nic.network, nic.portgroup});
      if (net == networks.end() || net->second.size() != 1) {
        out.refused.push_back(what + " is on " + place(nic.network, nic.portgroup) + ", " +
                              (net == networks.end() ? "none" : "more than one") +
                              " of the app's networks here: move it to the portgroup of one");
        continue;
      }
      api::AddedNic added{def.name, nic.mac, *net->second.begin(), nic.model, std::nullopt};
      if (def.membership) {
        for (const auto& declared : def.membership->nics) {
          if (declared.mac != nic.mac) continue;
          added.ip = address_home(declared.ip, added.network, *first, *second);
        }
      }
      out.added.added_nics.push_back(std::move(added));
    }
  }
  return out;
}

Result<std::vector<api::AddedDisk>> added_disks(FailoverSite& site, const std::string& app_id) {
  auto changes = changes_here(site, app_id);
  if (!changes) return changes.error();
  return std::move(changes->added.added_disks);
}

std::optional<Error> reprotect_refusal(const state::AppRecord& app) {
  // failed: a retry (its checks decide); protected_reverse: again, for disks added here.
  if (app.state == AppState::failed_over || app.state == AppState::reprotecting ||
      app.state == AppState::protected_reverse || app.state == AppState::failed) {
    return std::nullopt;
  }
  std::string hint = ": only an app failed over to this site is reprotected";
  return fail(Errc::failed_precondition, "app '" + app.id + "' is " + to_string(app.state) + hint);
}

std::optional<Error> failback_refusal(const state::AppRecord& app) {
  if (app.state == AppState::protected_reverse || app.state == AppState::failing_back ||
      app.state == AppState::failed) {
    return std::nullopt;
  }
  std::string hint =
      app.state == AppState::failed_over
          ? ": reprotect it first (drpair reprotect " + app.id +
                "), so that its data replicates back to the production site"
      : app.state == AppState::protected_ || app.state == AppState::protecting
          ? ": it runs at the production site already; nothing to fail back"
          : ": only an app reprotected to the production site (protected_reverse) fails back";
  return fail(Errc::failed_precondition, "app '" + app.id + "' is " + to_string(app.state) + hint);
}

Status run_reprotect(FailoverSite& site, const std::string& app_id, Steps& steps) {
  auto app = site.store.get_app(app_id);
  if (!app) return app.error();
  if (auto refused = reprotect_refusal(*app)) return *refused;
  if (auto s = checked_production(site, *app, steps, false); !s) return s;
  auto pairs = site.store.mirror_pairs(app_id);
  if (!pairs) return pairs.error();
  const auto had = synced_before_promote(site, app_id);
  return owning(site.store, app_id, steps, AppState::reprotecting, AppState::protected_reverse, [&] {
    // Disks added here since the restore (drift while the app runs here) join the pairs.
    auto captured = steps.run("capture", [&]() -> Result<json> {
      auto added = added_disks(site, app_id);
      if (!added) return added.error();
      api::StartRequest recorded;
      recorded.added_disks = std::move(*added);
      return ok(api::to_json(recorded));
    });
    if (!captured) return Status(captured.error());
    api::PairImages request;
    for (const auto& d : disks_of(*captured)) {
      auto mirrored = steps.run("mirror:" + storage::to_string(d.image), [&]() -> Result<json> {
        auto info = site.storage.mirror_info(d.image);
        if (!info) return info.error();
        if (info->role == storage::ImageRole::not_mirrored) {
          // An image in an RBD namespace the app did not use yet: its namespace mirrors first.
          if (auto s = site.storage.enable_pool_mirroring(d.image.pool); !s) return s.error();
          if (auto s = site.storage.enable_mirroring(d.image, storage::MirrorMode::snapshot); !s) {
            return s.error();
          }
        }
        return ok({{"vm", d.vm}, {"target", d.target}});
      });
      if (!mirrored) return Status(mirrored.error());
      request.images.push_back(d.image);
    }
    if (!request.images.empty()) {
      auto paired_there = steps.run("pair-production", [&]() -> Result<json> {
        auto r = site.peer.pair(app_id, request);
        if (!r) return r.error();
        return ok(api::to_json(*r));
      });
      if (!paired_there) return Status(paired_there.error());
      auto now_pairs = site.store.mirror_pairs(app_id);
      if (!now_pairs) return Status(now_pairs.error());
      auto all = *now_pairs;
      for (const auto& image : request.images) {
        if (paired(all, image)) continue;
        all.push_back(added_pair(app_id, image, all));
      }
      if (auto s = site.store.replace_mirror_pairs(app_id, all); !s) return s;
      *pairs = std::move(all);
    }
    const auto deadline = Clock::now() + site.resync_timeout;
    const auto done = parallel_map(site.parallelism, *pairs, [&](const state::MirrorPairRecord& p) {
      return steps.run("reprotect:" + image_name(p.target), [&]() -> Result<json> {
        storage::StorageEnd here(site.storage);
        PeerEnd there(site.peer, app_id, steps.stop_token(), site.peer_poll);
        const auto it = had.find(image_name(p.target));
        auto report = storage::reprotect_pair(
            here, there, spec(p.target), deadline,
            it != had.end() ? std::optional(it->second) : std::nullopt);
        if (!report) return report.error();
        if (report->resynced && site.log) {
          site.log("reprotect " + app_id + ": " + image_name(p.target) + " at " + site.peer_site +
                   " resynced (" + std::to_string(report->discarded ? report->discarded->unreplicated_snapshots : 0) +
                   " snapshot(s) of writes there never replicated: discarded)");
        }
        return ok(to_json(*report));
      });
    });
    if (auto e = first_error(done)) return Status(*e);
    auto reversed = steps.run("reverse-production", [&]() -> Result<json> {
      auto r = site.peer.reverse(app_id);
      if (!r) return r.error();
      return ok(api::to_json(*r));
    });
    if (!reversed) return Status(reversed.error());
    return Status{};
  });
}

Status run_failback(FailoverSite& site, const std::string& app_id, Steps& steps) {
  auto app = site.store.get_app(app_id);
  if (!app) return app.error();
  if (auto refused = failback_refusal(*app)) return *refused;
  if (auto s = checked_production(site, *app, steps, true); !s) return s;
  auto pairs = site.store.mirror_pairs(app_id);
  if (!pairs) return pairs.error();
  return owning(site.store, app_id, steps, AppState::failing_back, AppState::protected_, [&] {
    // Disks added here since the restore come home too: each must be paired (a reprotect does
    // it), or its data would stay behind.
    auto captured = steps.run("capture", [&]() -> Result<json> {
      auto changes = changes_here(site, app_id);
      if (!changes) return changes.error();
      if (!changes->refused.empty()) {
        std::string list;
        for (const auto& r : changes->refused) list += (list.empty() ? "" : "; ") + r;
        return fail(Errc::failed_precondition,
                    "app '" + app_id + "' changed here in a way a failback cannot bring home (" +
                        list + "); undo that change, then fail back again");
      }
      for (const auto& d : changes->added.added_disks) {
        if (!paired(*pairs, d.image)) {
          return fail(Errc::failed_precondition,
                      "rbd image '" + storage::to_string(d.image) + "' of vm '" + d.vm +
                          "', added here, is not replicated to " + site.peer_site +
                          " yet: reprotect first (drpair reprotect " + app_id +
                          "; the DR agent also starts one when it notices the disk)");
        }
      }
      return ok(api::to_json(changes->added));
    });
    if (!captured) return Status(captured.error());
    auto stopped = steps.run("stop-vms", [&]() -> Result<json> {
      if (auto s = stop_app_vms(site.hypervisor, app_id, site.shutdown_timeout, site.log); !s) {
        return s.error();
      }
      return ok();
    });
    if (!stopped) return Status(stopped.error());
    const auto deadline = Clock::now() + site.promote_timeout;
    const auto changed =
        parallel_map(site.parallelism, *pairs, [&](const state::MirrorPairRecord& p) {
          return steps.run("role-change:" + image_name(p.target), [&]() -> Result<json> {
            storage::StorageEnd here(site.storage);
            PeerEnd there(site.peer, app_id, steps.stop_token(), site.peer_poll);
            // Reverse protection is the production agent's again once it runs the app: its
            // snapshot schedule starts at once, and the next role change syncs forward first.
            auto report = storage::planned_role_change(here, there, spec(p.target), deadline,
                                                       {.wait_reverse_protection = false});
            if (!report) return report.error();
            return ok(to_json(*report));
          });
        });
    if (auto e = first_error(changed)) return Status(*e);
    const auto carried = api::read_start_request(*captured);
    if (!carried) {
      return Status(fail(Errc::internal, "failback of app '" + app_id +
                                             "': its capture step's record is unreadable: " +
                                             model::format(carried.error().front())));
    }
    auto started = steps.run("start-production", [&]() -> Result<json> {
      auto r = site.peer.start(app_id, *carried);
      if (!r) return with_context(r.error(), "failback needs " + site.peer_site);
      return ok(api::to_json(*r));
    });
    if (!started) return Status(started.error());
    auto removed = steps.run("remove-restored", [&]() -> Result<json> {
      // The failover's restore steps say what it created, also once its domains are gone (a
      // removal cut off and resumed).
      auto failover = last_failover(site.store, app_id);
      if (!failover) return failover.error();
      std::optional<StoreJournal> restored;
      if (*failover) restored.emplace(site.store, **failover);
      // The VMs that came home first: the portgroups they were on are the restore's to remove.
      auto home = remove_carried_home(site.hypervisor, app_id, carried->added_vms);
      if (!home) return home.error();
      auto report = teardown(site.hypervisor, app_id, restored ? &*restored : nullptr, "restore/");
      if (!report) return report.error();
      return ok({{"domains", report->domains},
                 {"portgroups", report->portgroups},
                 {"networks", report->networks},
                 {"kept", report->kept},
                 {"carriedHome", *home}});
    });
    if (!removed) return Status(removed.error());
    if (site.log) site.log("app " + app_id + " failed back to " + site.peer_site);
    return Status{};
  });
}

void refresh_reverse_protection(FailoverSite& site) {
  auto apps = site.store.list_apps();
  if (!apps) return;
  for (const auto& app : *apps) {
    if (app.state != AppState::protected_reverse) continue;
    auto pairs = site.store.mirror_pairs(app.id);
    if (!pairs) continue;
    for (const auto& p : *pairs) {
      auto here = storage::observe_side(site.storage, spec(p.target));
      if (!here) continue;
      auto there = site.fence_peer.image(app.id, spec(p.source));
      if (!there) continue;
      state::MirrorStatus status;
      status.checked_at = std::chrono::time_point_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now());
      // The newest snapshot of this site complete there, and when this site took it.
      std::optional<storage::SystemTime> synced;
      for (const auto& s : there->side.snapshots) {
        if (s.is_primary() || !s.complete || s.primary_mirror_uuid != here->mirror_uuid) continue;
        for (const auto& mine : here->snapshots) {
          if (mine.id == s.primary_snap_id) synced = std::max(synced.value_or(mine.created), mine.created);
        }
      }
      status.text = std::string(storage::to_string(there->side.role)) + " at " + site.peer_site +
                    (synced ? ", synced" : ", not synced yet");
      if (synced) {
        status.last_sync_at = std::chrono::time_point_cast<std::chrono::milliseconds>(*synced);
        status.lag_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now() - *synced)
                                 .count();
      }
      (void)site.store.update_mirror_status(app.id, p.source, status);
    }
  }
}

}  // namespace dr::workflow
