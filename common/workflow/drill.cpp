#include "workflow/drill.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "core/time_text.hpp"
#include "workflow/app_records.hpp"
#include "workflow/parallel.hpp"
#include "workflow/restore.hpp"

namespace dr::workflow {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::string where_at(const FailoverSite& site) { return " at " + site.config.site; }

// The plan as the plan step records it: what a cleanup reads back from the drill's journal.
json plan_json(const DrillPlan& plan, std::int64_t generation, const std::string& network) {
  json images = json::array();
  for (const auto& i : plan.images) {
    images.push_back({{"replica", storage::to_string(i.replica)},
                      {"pool", i.copy.pool},
                      {"copy", i.copy.image}});
  }
  json vms = json::array();
  for (const auto& vm : plan.description.vms) vms.push_back(vm.name);
  return {{"generation", generation}, {"network", network}, {"vms", vms}, {"images", images}};
}

// The drill copies a plan step recorded (none when planning never finished: nothing was copied).
Result<std::vector<storage::ImageSpec>> planned_copies(state::StateStore& store,
                                                       state::JobId drill) {
  StoreJournal journal(store, drill);
  auto plan = journal.find("plan");
  if (!plan) return plan.error();
  std::vector<storage::ImageSpec> out;
  if (!*plan || (*plan)->state != state::StepState::done) return out;
  const json& images = (*plan)->detail.value("images", json::array());
  for (const auto& i : images) {
    if (i.is_object()) out.push_back({i.value("pool", ""), i.value("copy", "")});
  }
  return out;
}

// Waits until the replica's newest mirror snapshot is a complete copy of production's, and
// answers it.
Result<storage::MirrorSnapshot> newest_complete(FailoverSite& site,
                                                const storage::ImageSpec& replica,
                                                std::stop_token stop) {
  const std::string what = "replica " + storage::to_string(replica) + where_at(site);
  std::optional<storage::MirrorSnapshot> found;
  auto waited = poll_until(
      [&]() -> Result<std::optional<json>> {
        auto snaps = site.storage.mirror_snapshots(replica);
        if (!snaps) return snaps.error();
        if (snaps->empty() || snaps->back().is_primary() || !snaps->back().complete) {
          return std::optional<json>();
        }
        found = snaps->back();
        return std::optional<json>(json::object());
      },
      site.promote_timeout, std::chrono::milliseconds(200), stop,
      what + ": waiting for rbd-mirror to complete its newest snapshot");
  if (!waited) return waited.error();
  return *found;
}

// One replica's copy: HEAD between two snapshot copies of rbd-mirror (drill.hpp).
Result<json> copy_replica(FailoverSite& site, const DrillImage& image, std::stop_token stop) {
  const auto start = Clock::now();
  const std::string what = "replica " + storage::to_string(image.replica) + where_at(site);
  auto info = site.storage.mirror_info(image.replica);
  if (!info) return info.error();
  if (info->role != storage::ImageRole::non_primary) {
    return fail(Errc::failed_precondition,
                what + " is " + to_string(info->role) +
                    ", not a replica: a drill copies non-primary images (is the app protected "
                    "here?)");
  }
  for (int attempt = 1; attempt <= kCopyAttempts; ++attempt) {
    auto snapshot = newest_complete(site, image.replica, stop);
    if (!snapshot) return snapshot.error();
    // A copy left by a cut-off attempt: the plan step found no such image before the drill.
    auto exists = site.storage.image_exists(image.copy);
    if (!exists) return exists.error();
    if (*exists) {
      if (auto s = site.storage.remove_image(image.copy); !s) return s.error();
    }
    const auto taken_at = std::chrono::system_clock::now();
    auto bytes = site.storage.copy_image(image.replica, image.copy, stop);
    if (!bytes) return bytes.error();
    auto after = site.storage.mirror_snapshots(image.replica);
    if (!after) return after.error();
    if (!after->empty() && after->back().id == snapshot->id) {
      const auto rpo = std::chrono::duration_cast<std::chrono::milliseconds>(
          taken_at - snapshot->created);
      return ok({{"image", storage::to_string(image.replica)},
                 {"copy", storage::to_string(image.copy)},
                 {"snapshotId", snapshot->id},
                 {"primarySnapId", snapshot->primary_snap_id},
                 {"snapshotAt", format_time(snapshot->created)},
                 {"rpoMs", rpo.count()},
                 {"bytes", *bytes},
                 {"attempts", attempt},
                 {"ms", ms_since(start)}});
    }
    // rbd-mirror began copying a newer snapshot into the replica meanwhile: this copy may hold
    // part of it.
    if (auto s = site.storage.remove_image(image.copy); !s) return s.error();
  }
  return fail(Errc::unavailable,
              what + ": rbd-mirror began a newer snapshot during each of " +
                  std::to_string(kCopyAttempts) +
                  " copies (a copy takes longer than the snapshot interval); drill again, or "
                  "lengthen the snapshot interval");
}

// The recovery point of the whole app from its copies: the oldest snapshot, the worst RPO.
json recovery_point(const std::vector<json>& copies) {
  json images = json::array();
  std::string at;
  std::int64_t worst = 0;
  for (const auto& c : copies) {
    const std::string when = c.value("snapshotAt", "");
    if (at.empty() || when < at) at = when;  // RFC 3339 UTC with milliseconds: sorts as text
    worst = std::max(worst, c.value("rpoMs", std::int64_t{0}));
    images.push_back(c);
  }
  return {{"at", at.empty() ? json(nullptr) : json(at)},
          {"rpoSeconds", static_cast<double>(worst) / 1000.0},
          {"images", images}};
}

// FNV-1a, 64 bits, from `basis`.
std::uint64_t fnv1a(std::string_view text, std::uint64_t basis) {
  std::uint64_t h = basis;
  for (const char c : text) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
  return h;
}

}  // namespace

std::string drill_uuid(std::string_view uuid) {
  std::string key = "drpair-drill:";
  for (const char c : uuid) key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::uint64_t hi = fnv1a(key, 0xCBF29CE484222325ull);
  std::uint64_t lo = fnv1a(key, 0x84222325CBF29CE4ull ^ hi);
  hi = (hi & ~0xF000ull) | 0x8000ull;                 // version 8: custom
  lo = (lo & 0x3FFFFFFFFFFFFFFFull) | (1ull << 63);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xFFFF),
                static_cast<unsigned>(hi & 0xFFFF), static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
  return out;
}

Result<DrillPlan> plan_drill(const model::SecondDescription& second,
                             const virt::NetworkTemplate& drill_switch) {
  DrillPlan plan;
  plan.description = second;
  const std::string& sw = drill_switch.switch_name;
  std::map<std::string, const model::BackupNetwork*> portgroups;  // drill portgroup -> first user
  for (std::size_t i = 0; i < plan.description.networks.size(); ++i) {
    const model::BackupNetwork& net = second.networks[i];
    if (net.switch_name == sw) {
      return fail(Errc::failed_precondition,
                  "the drill switch '" + sw + "' is the switch of backup network '" + net.id +
                      "': a drill must run apart from the app's networks; configure another "
                      "drill network");
    }
    const std::string pg = net.portgroup.value_or(net.switch_name);
    const auto [it, fresh] = portgroups.emplace(pg, &net);
    if (!fresh && it->second->vlan != net.vlan) {
      const auto vlan = [](const std::optional<int>& v) {
        return v ? std::to_string(*v) : std::string("none");
      };
      return fail(Errc::failed_precondition,
                  "backup networks '" + it->second->id + "' (VLAN " + vlan(it->second->vlan) +
                      ") and '" + net.id + "' (VLAN " + vlan(net.vlan) +
                      ") both need drill portgroup '" + pg + "' on '" + sw +
                      "': a drill cannot hold them apart");
    }
    auto& drilled = plan.description.networks[i];
    drilled.switch_name = sw;
    drilled.portgroup = pg;
  }
  for (auto& vm : plan.description.vms) {
    vm.name += kDrillSuffix;
    vm.id = drill_uuid(vm.id);
    for (auto& disk : vm.disks) {
      storage::ImageSpec replica{model::pool_spec(disk), disk.image};
      disk.image += kDrillSuffix;
      plan.images.push_back({std::move(replica), {model::pool_spec(disk), disk.image}});
    }
  }
  return plan;
}

std::optional<Error> drill_refusal(const state::AppRecord& app, const virt::SiteConfig& config) {
  if (app.state != state::AppState::protected_) {
    return fail(Errc::failed_precondition,
                "app '" + app.id + "' is " + to_string(app.state) + " at " + config.site +
                    ": a drill needs a protected app (its replicas here, production running)");
  }
  if (!config.drill_switch) {
    return fail(Errc::failed_precondition,
                config.site + " has no drill switch: set \"drill\": {\"network\", \"bridge\"} "
                              "in its site config (an Open vSwitch bridge with no uplink)");
  }
  return std::nullopt;
}

Result<std::optional<state::JobRecord>> drill_in_place(state::StateStore& store,
                                                       const std::string& app_id) {
  auto jobs = store.list_jobs(app_id);
  if (!jobs) return jobs.error();
  for (auto it = jobs->rbegin(); it != jobs->rend(); ++it) {
    using T = state::JobType;
    const bool cleans = it->type == T::drill_cleanup || it->type == T::failover_planned ||
                        it->type == T::failover_disaster;
    if (cleans && it->state == state::JobState::succeeded) return std::optional<state::JobRecord>();
    if (it->type != T::drill) continue;
    auto steps = store.steps(it->id);
    if (!steps) return steps.error();
    if (std::any_of(steps->begin(), steps->end(),
                    [](const state::JobStep& s) { return s.name != "plan"; })) {
      return std::optional(*it);
    }
  }
  return std::optional<state::JobRecord>();
}

Status run_drill(FailoverSite& site, const state::JobRecord& job, Steps& steps) {
  const std::string& app_id = job.app_id;
  const auto started = Clock::now();
  auto app = site.store.get_app(app_id);
  if (!app) return app.error();
  auto planned = steps.run("plan", [&]() -> Result<json> {
    if (auto refused = drill_refusal(*app, site.config)) return *refused;
    auto other = drill_in_place(site.store, app_id);
    if (!other) return other.error();
    if (*other && (*other)->id != job.id) {
      return fail(Errc::failed_precondition,
                  "app '" + app_id + "' has a drill in place (job " +
                      std::to_string((*other)->id) + "); clean it up first");
    }
    auto second = stored_second(site.store, app_id, app->generation);
    if (!second) return second.error();
    auto p = plan_drill(*second, *site.config.drill_switch);
    if (!p) return p.error();
    // Nothing of the drill may exist yet: what a cleanup removes must be the drill's own.
    for (const auto& i : p->images) {
      auto exists = site.storage.image_exists(i.copy);
      if (!exists) return exists.error();
      if (*exists) {
        return fail(Errc::already_exists,
                    "image " + storage::to_string(i.copy) + where_at(site) +
                        " exists and is not this drill's: remove or rename it, then drill again");
      }
    }
    for (const auto& vm : p->description.vms) {
      auto status = site.hypervisor.domain_status(vm.name);
      if (status) {
        return fail(Errc::already_exists,
                    "domain '" + vm.name + "'" + where_at(site) +
                        " exists and is not this drill's: remove or rename it, then drill again");
      }
      if (status.error().code != Errc::not_found) return status.error();
    }
    return ok(plan_json(*p, app->generation, site.config.drill_switch->switch_name));
  });
  if (!planned) return planned.error();
  // A resumed drill plans again from what the plan step recorded (the same generation).
  if (!site.config.drill_switch) {
    return fail(Errc::failed_precondition, site.config.site + " no longer has a drill switch");
  }
  const std::int64_t generation = planned->value("generation", app->generation);
  auto second = stored_second(site.store, app_id, generation);
  if (!second) return second.error();
  auto p = plan_drill(*second, *site.config.drill_switch);
  if (!p) return p.error();
  const auto plan_ms = ms_since(started);

  const auto copy_start = Clock::now();
  const auto copied = parallel_map(site.parallelism, p->images, [&](const DrillImage& i) {
    return steps.run("copy:" + storage::to_string(i.replica),
                     [&] { return copy_replica(site, i, steps.stop_token()); });
  });
  if (auto e = first_error(copied)) return *e;
  std::vector<json> copies;
  for (const auto& c : copied) copies.push_back(*c);
  const auto copy_ms = ms_since(copy_start);

  const auto restore_start = Clock::now();
  virt::SiteConfig config = site.config;
  config.create_networks = true;
  config.network_templates = {*site.config.drill_switch};
  Steps restore_steps = steps.within("restore/");
  const auto report = RestoreWorkflow(p->description, config, site.hypervisor, site.workers,
                                      RestoreKind::drill)
                          .run(restore_steps);
  if (report.failure) {
    return with_context(report.failure->error,
                        "drill restore step '" + report.failure->step + "'");
  }
  if (!report.ok()) return fail(Errc::internal, "drill restore ended but not every VM runs");
  const auto restore_ms = ms_since(restore_start);
  const auto to_running = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now() - job.created_at);
  auto reported = steps.run("report", [&]() -> Result<json> {
    return ok({{"app", app_id},
               {"generation", generation},
               {"network", site.config.drill_switch->switch_name},
               {"recoveryPoint", recovery_point(copies)},
               {"phases", {{"planMs", plan_ms}, {"copyMs", copy_ms}, {"restoreMs", restore_ms}}},
               {"toAllRunningMs", to_running.count()},
               {"restore", to_json(report)}});
  });
  if (!reported) return reported.error();
  return {};
}

Status remove_drill_domains(FailoverSite& site, const state::JobRecord& drill, Steps& steps) {
  auto removed = steps.run("remove-domains", [&]() -> Result<json> {
    StoreJournal journal(site.store, drill.id);
    auto report =
        teardown(site.hypervisor, drill.app_id, &journal, "restore/", RestoreKind::drill);
    if (!report) return with_context(report.error(), "drill of job " + std::to_string(drill.id));
    return ok({{"drill", drill.id},
               {"domains", report->domains},
               {"portgroups", report->portgroups},
               {"networks", report->networks},
               {"kept", report->kept}});
  });
  if (!removed) return removed.error();
  return {};
}

Status remove_drill_copies(FailoverSite& site, const state::JobRecord& drill, Steps& steps) {
  auto copies = planned_copies(site.store, drill.id);
  if (!copies) return copies.error();
  const auto removed = parallel_map(site.parallelism, *copies, [&](const storage::ImageSpec& c) {
    return steps.run("remove-copy:" + storage::to_string(c), [&]() -> Result<json> {
      auto info = site.storage.mirror_info(c);
      if (!info) {
        if (info.error().code == Errc::not_found) return ok({{"already", "gone"}});
        return info.error();
      }
      // Never a replica: a drill's copy is a plain image.
      if (info->role != storage::ImageRole::not_mirrored) {
        return fail(Errc::failed_precondition,
                    "image " + storage::to_string(c) + where_at(site) + " is mirrored (" +
                        to_string(info->role) + "): not a drill copy; left alone");
      }
      if (auto s = site.storage.remove_image(c); !s) {
        if (s.error().code == Errc::not_found) return ok({{"already", "gone"}});
        return s.error();
      }
      return ok({{"removed", storage::to_string(c)}});
    });
  });
  if (auto e = first_error(removed)) return *e;
  return {};
}

Status run_drill_cleanup(FailoverSite& site, const std::string& app_id, Steps& steps) {
  auto found = steps.run("find-drill", [&]() -> Result<json> {
    auto in_place = drill_in_place(site.store, app_id);
    if (!in_place) return in_place.error();
    if (*in_place) return ok({{"drill", (*in_place)->id}});
    // None in place: the latest drill is cleaned again (nothing left to find is fine).
    auto jobs = site.store.list_jobs(app_id);
    if (!jobs) return jobs.error();
    for (auto it = jobs->rbegin(); it != jobs->rend(); ++it) {
      if (it->type == state::JobType::drill) return ok({{"drill", it->id}, {"already", "clean"}});
    }
    return fail(Errc::failed_precondition,
                "app '" + app_id + "' has had no drill" + where_at(site) + ": nothing to clean up");
  });
  if (!found) return found.error();
  auto drill = site.store.get_job(found->value("drill", state::JobId{0}));
  if (!drill) return drill.error();
  if (auto s = remove_drill_domains(site, *drill, steps); !s) return s;
  return remove_drill_copies(site, *drill, steps);
}

Result<json> drill_domains(virt::Hypervisor& hypervisor, const std::string& app_id) {
  auto members = hypervisor.list_members();
  if (!members) return members.error();
  std::map<std::string, std::string> found;  // by name
  for (const auto& [status, membership, broken] : *members) {
    if (membership && membership->app_id == app_id && membership->drill) {
      found[status.name] = virt::to_string(status.state);
    }
  }
  json out = json::array();
  for (const auto& [name, state] : found) out.push_back({{"name", name}, {"state", state}});
  return ok(out);
}

}  // namespace dr::workflow
