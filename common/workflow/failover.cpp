#include "workflow/failover.hpp"

#include <optional>

#include "workflow/app_records.hpp"
#include "workflow/drill.hpp"
#include "workflow/parallel.hpp"
#include "workflow/peer_end.hpp"
#include "workflow/restore.hpp"

namespace dr::workflow {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Disaster fencing: the production site must be gone, or no longer hold the app as primary.
Result<json> fence(FailoverSite& site, const std::string& app_id, bool force) {
  auto view = site.fence_peer.app(app_id);
  if (!view) {
    const auto code = view.error().code;
    if (code == Errc::unavailable || code == Errc::deadline_exceeded) {
      return ok({{"production", "unreachable"}, {"detail", view.error().message}});
    }
    if (code == Errc::not_found) return ok({{"production", "does not hold the app"}});
    if (force) return ok({{"production", "answered with an error"}, {"forced", true}});
    return fail(Errc::failed_precondition,
                "fencing app '" + app_id + "': " + site.peer_site +
                    " answers but its answer is an error (" + view.error().message +
                    "); fail over with force if it is really down");
  }
  const int primary = view->primary_images();
  const int running = view->vms_running;
  if (primary == 0 && running == 0) {
    return ok({{"production", "answers; the app is stopped and demoted there"}});
  }
  const std::string holds = std::to_string(primary) + " image(s) primary, " +
                            std::to_string(running) + " VM(s) running";
  if (force) {
    if (site.log) {
      site.log("fence of app " + app_id + " overridden by force: " + site.peer_site +
               " still answers (" + holds + ")");
    }
    return ok({{"production", "answers and holds the app: " + holds}, {"forced", true}});
  }
  return fail(Errc::failed_precondition,
              "fencing refused: " + site.peer_site + " answers and still holds app '" + app_id +
                  "' as primary (" + holds +
                  "); use a planned failover, or a disaster failover with force if that site "
                  "must be abandoned (a split brain is then possible)");
}

// Planned: the production site stops the app, each image changes roles (the one role-change
// machine: sync forward, demote there, the demotion complete here, promote here), and the
// production site releases the app.
Status hand_over(FailoverSite& site, const std::string& app_id,
                 const std::vector<state::MirrorPairRecord>& pairs, Steps& steps) {
  auto stopped = steps.run("stop-production", [&]() -> Result<json> {
    auto r = site.peer.stop(app_id);
    if (!r) return with_context(r.error(), "planned failover needs " + site.peer_site);
    return ok(api::to_json(*r));
  });
  if (!stopped) return stopped.error();
  const auto deadline = Clock::now() + site.promote_timeout;
  const auto changed = parallel_map(site.parallelism, pairs, [&](const state::MirrorPairRecord& p) {
    return steps.run("role-change:" + image_name(p.target), [&]() -> Result<json> {
      if (!(spec(p.source) == spec(p.target))) {
        return fail(Errc::internal, "mirror pair " + image_name(p.source) + " -> " +
                                        image_name(p.target) +
                                        ": RBD mirroring keeps pool and image names");
      }
      PeerEnd there(site.peer, app_id, steps.stop_token(), site.peer_poll);
      storage::StorageEnd here(site.storage);
      // Without waiting for reverse protection: the app is down until the restore, and the next
      // role change of this pair syncs forward before it demotes anyway.
      auto report = storage::planned_role_change(there, here, spec(p.target), deadline,
                                                 {.wait_reverse_protection = false});
      if (!report) return report.error();
      return ok(to_json(*report));
    });
  });
  if (auto e = first_error(changed)) return *e;
  auto released = steps.run("release-production", [&]() -> Result<json> {
    auto r = site.peer.release(app_id);
    if (!r) return r.error();
    return ok(api::to_json(*r));
  });
  if (!released) return released.error();
  return {};
}

Status fail_over(FailoverSite& site, const std::string& app_id, const FailoverRequest& request,
                 Steps& steps) {
  auto app = site.store.get_app(app_id);
  if (!app) return app.error();
  auto second = stored_second(site.store, app_id, app->generation);
  if (!second) return second.error();
  auto pairs = site.store.mirror_pairs(app_id);
  if (!pairs) return pairs.error();
  // A drill in place goes first: its VMs before anything starts, its copies after the restore.
  auto drill = drill_in_place(site.store, app_id);
  if (!drill) return drill.error();
  Steps drill_steps = steps.within("drill-cleanup/");
  if (*drill) {
    if (auto s = remove_drill_domains(site, **drill, drill_steps); !s) return s;
  }

  if (request.planned) {
    if (auto s = hand_over(site, app_id, *pairs, steps); !s) return s;
  } else {
    // Every image at once: a forced promote waits seconds for the lost peer, per image.
    const auto promoted =
        parallel_map(site.parallelism, *pairs, [&](const state::MirrorPairRecord& p) {
          return steps.run("promote:" + image_name(p.target), [&]() -> Result<json> {
            auto info = site.storage.mirror_info(spec(p.target));
            if (!info) return info.error();
            if (info->role == storage::ImageRole::primary) return ok({{"already", "primary"}});
            // The newest snapshot of production complete here: what the forced promote keeps
            // (it drops the copies; a reprotect later says what production took after it).
            json detail{{"promotion", "forced"}, {"lastSynced", nullptr}};
            if (auto lag = site.storage.replication_lag(spec(p.target)); lag && lag->newest_synced) {
              detail["lastSynced"] = {{"mirrorUuid", lag->newest_synced->source_mirror_uuid},
                                      {"snapId", lag->newest_synced->snap_id}};
            }
            if (auto s = site.storage.promote(spec(p.target), storage::Promotion::forced); !s) {
              return s.error();
            }
            return ok(detail);
          });
        });
    if (auto e = first_error(promoted)) return *e;
  }

  Steps restore_steps = steps.within("restore/");
  const auto report =
      RestoreWorkflow(*second, site.config, site.hypervisor, site.workers).run(restore_steps);
  if (report.failure) {
    return with_context(report.failure->error, "restore step '" + report.failure->step + "'");
  }
  if (!report.ok()) return fail(Errc::internal, "restore ended but not every VM runs");
  if (*drill) {
    if (auto s = remove_drill_copies(site, **drill, drill_steps); !s) return s;
  }
  auto reported = steps.run("report", [&]() -> Result<json> { return ok(to_json(report)); });
  if (!reported) return reported.error();
  return {};
}

}  // namespace

Status run_failover(FailoverSite& site, const std::string& app_id, const FailoverRequest& request,
                    Steps& steps) {
  auto app = site.store.get_app(app_id);
  if (!app) return app.error();
  const auto before = app->state;
  if (!request.planned) {
    auto fenced = steps.run("fence", [&]() { return fence(site, app_id, request.force); });
    if (!fenced) {
      // Nothing changed: the app keeps its state (unless an earlier run had moved it).
      if (before == state::AppState::failing_over) {
        (void)set_app_state(site.store, app_id, state::AppState::failed, fenced.error());
      }
      return fenced.error();
    }
  }
  return owning(site.store, app_id, steps, state::AppState::failing_over,
                state::AppState::failed_over,
                [&] { return fail_over(site, app_id, request, steps); });
}

}  // namespace dr::workflow
