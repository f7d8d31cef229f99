#include "workflow/protect.hpp"

#include <map>
#include <set>

#include "mapping/mapping.hpp"
#include "model/json_io.hpp"
#include "virt/capture.hpp"
#include "workflow/app_records.hpp"
#include "workflow/parallel.hpp"

namespace dr::workflow {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string problems_text(const model::Problems& problems) {
  std::string text;
  for (const auto& p : problems) text += (text.empty() ? "" : "; ") + model::format(p);
  return text;
}

// Moves the app to `to` at `generation`, or to failed with the error.
Status finish(ProductionSite& site, const std::string& app_id,
              const Result<std::int64_t>& outcome, state::AppState to) {
  if (!outcome && outcome.error().code == Errc::aborted) return outcome.error();  // stopped
  auto stored = update_app(site.store, app_id, [&](state::AppRecord& app) {
    if (!outcome) {
      app.state = state::AppState::failed;
      app.last_error = outcome.error();
    } else {
      app.state = to;
      app.generation = *outcome;
      app.last_error.reset();
    }
  });
  if (!outcome) return outcome.error();
  return stored;
}

Result<model::SecondDescription> mapped_here(ProductionSite& site, const std::string& app_id,
                                             const model::FirstDescription& first) {
  auto inventory = site.peer.inventory();
  if (!inventory) return inventory.error();
  const model::MappingPolicy policy = site.policy ? *site.policy : model::MappingPolicy{};
  auto second = mapping::generate(first, policy, &*inventory);
  if (!second) {
    return fail(Errc::failed_precondition, "app '" + app_id + "' cannot be mapped onto " +
                                               site.peer_site + ": " +
                                               problems_text(second.error()));
  }
  return std::move(*second);
}

Result<std::int64_t> protect(ProductionSite& site, const std::string& app_id,
                             api::RegistrationMode mode, Steps& steps) {
  if (auto s = set_app_state(site.store, app_id, state::AppState::protecting); !s) return s.error();

  auto captured = steps.run("capture", [&]() -> Result<json> {
    auto first = capture_next(site, app_id);
    if (!first) return first.error();
    if (auto s = site.store.put_description(app_id, state::DescriptionKind::first,
                                            first->app.generation,
                                            model::to_text(model::to_json(*first)));
        !s) {
      return s.error();
    }
    return ok({{"generation", first->app.generation}, {"vms", first->vms.size()}});
  });
  if (!captured) return captured.error();
  const std::int64_t generation = (*captured)["generation"].get<std::int64_t>();
  auto first = stored_first(site.store, app_id, generation);
  if (!first) return first.error();

  api::Registration registration{mode, *first, std::nullopt};
  if (mode == api::RegistrationMode::second) {
    auto mapped = steps.run("map", [&]() -> Result<json> {
      auto second = mapped_here(site, app_id, *first);
      if (!second) return second.error();
      return ok({{"second", model::to_json(*second)}});
    });
    if (!mapped) return mapped.error();
    auto second = model::read_second_description((*mapped)["second"]);
    if (!second) return fail(Errc::internal, "the recorded mapping of app '" + app_id +
                                                 "' is unreadable");
    registration.second = std::move(*second);
  }

  std::map<std::string, std::set<std::string>> pools;  // pool -> its namespaces in use
  std::vector<state::ImageRef> images;
  for (const auto& vm : first->vms) {
    for (const auto& d : vm.disks) {
      auto& namespaces = pools[d.pool];
      if (!d.rbd_namespace.empty()) namespaces.insert(d.rbd_namespace);
      images.push_back({model::pool_spec(d), d.image});
    }
  }
  for (const auto& [pool, namespaces] : pools) {
    auto peered = steps.run("peer-pool:" + pool, [&]() -> Result<json> {
      if (auto s = site.storage.set_site_name(site.site_name); !s) return s.error();
      if (auto s = site.storage.enable_pool_mirroring(pool); !s) return s.error();
      for (const auto& ns : namespaces) {
        if (auto s = site.storage.enable_pool_mirroring(model::pool_spec(pool, ns)); !s)
          return s.error();
      }
      auto token = site.storage.create_bootstrap_token(pool);
      if (!token) return token.error();
      auto answer = site.peer.bootstrap(
          pool, {site.site_name, token->secret, {namespaces.begin(), namespaces.end()}});
      if (!answer) return answer.error();
      return ok(api::to_json(*answer));
    });
    if (!peered) return peered.error();
  }
  const auto mirror_mode =
      registration.second && !registration.second->replication.empty() &&
              registration.second->replication.front().mode == model::ReplicationMode::journal
          ? storage::MirrorMode::journal
          : storage::MirrorMode::snapshot;
  const auto mirrored = parallel_map(site.parallelism, images, [&](const state::ImageRef& image) {
    return steps.run("mirror:" + image_name(image), [&]() -> Result<json> {
      auto info = site.storage.mirror_info(spec(image));
      if (!info) return info.error();
      if (info->role == storage::ImageRole::not_mirrored) {
        if (auto s = site.storage.enable_mirroring(spec(image), mirror_mode); !s) return s.error();
      }
      if (mirror_mode == storage::MirrorMode::journal) return ok();
      auto ref = site.storage.create_mirror_snapshot(spec(image));
      if (!ref) return ref.error();
      if (site.snapshot_taken) site.snapshot_taken(app_id, image_name(image));
      return ok({{"snapId", ref->snap_id}});
    });
  });
  if (auto e = first_error(mirrored)) return *e;

  auto registered = steps.run("ship", [&]() -> Result<json> {
    auto answer = site.peer.register_app(app_id, registration);
    if (!answer) return answer.error();
    if (auto s = site.store.put_description(app_id, state::DescriptionKind::second, generation,
                                            model::to_text(model::to_json(answer->second)));
        !s) {
      return s.error();
    }
    const auto pairs = mirror_pairs_of(answer->second);
    if (auto s = site.store.replace_mirror_pairs(app_id, pairs); !s) return s.error();
    return ok({{"state", state::to_string(answer->state)}, {"pairs", pairs.size()}});
  });
  if (!registered) return registered.error();

  auto replicated = steps.run("await-replication", [&]() -> Result<json> {
    return poll_until(
        [&]() -> Result<std::optional<json>> {
          auto view = site.peer.app(app_id);
          if (!view) {
            if (view.error().code == Errc::unavailable ||
                view.error().code == Errc::deadline_exceeded) {
              return std::optional<json>();  // the peer may be restarting: keep waiting
            }
            return view.error();
          }
          if (view->state == state::AppState::protected_ && view->generation == generation) {
            return std::optional<json>(json{{"images", api::to_json(*view)["images"]}});
          }
          return std::optional<json>();
        },
        site.replication_timeout, site.replication_poll, steps.stop_token(),
        "app '" + app_id + "': every mirror pair synced at " + site.peer_site);
  });
  if (!replicated) return replicated.error();
  return generation;
}

// After the DR site forgot the app: every pair ended here.
Result<std::int64_t> unmirror(ProductionSite& site, const std::string& app_id, Steps& steps) {
  auto pairs = site.store.mirror_pairs(app_id);
  if (!pairs) return pairs.error();
  for (const auto& p : *pairs) {
    auto done = steps.run("unmirror:" + image_name(p.source), [&]() -> Result<json> {
      auto info = site.storage.mirror_info(spec(p.source));
      if (!info) return info.error();
      if (info->role == storage::ImageRole::not_mirrored) return ok({{"already", "not mirrored"}});
      if (auto s = site.storage.disable_mirroring(spec(p.source), false); !s) return s.error();
      return ok();
    });
    if (!done) return done.error();
  }
  if (auto s = site.store.replace_mirror_pairs(app_id, {}); !s) return s.error();
  auto app = site.store.get_app(app_id);
  if (!app) return app.error();
  return app->generation;
}

}  // namespace

Result<model::FirstDescription> capture_next(ProductionSite& site, const std::string& app_id) {
  virt::CaptureOptions options;
  options.site = site.site_name;
  options.config = site.config;
  options.warn = site.log;
  auto first = virt::capture(site.hypervisor, app_id, options);
  if (!first) return first.error();
  auto latest = site.store.latest_description(app_id, state::DescriptionKind::first);
  if (!latest) {
    if (latest.error().code != Errc::not_found) return latest.error();
    first->app.generation = std::max<std::int64_t>(first->app.generation, 1);
    return first;
  }
  auto previous = model::parse_first_description(latest->json);
  if (!previous) {
    return fail(Errc::internal, "the stored first description of app '" + app_id +
                                    "' is unreadable");
  }
  if (mapping::diff(*previous, *first).empty()) return *previous;
  first->app.generation = previous->app.generation + 1;
  return first;
}

Status run_protect(ProductionSite& site, const std::string& app_id, api::RegistrationMode mode,
                   Steps& steps) {
  return finish(site, app_id, protect(site, app_id, mode, steps), state::AppState::protected_);
}

Status run_unprotect(ProductionSite& site, const std::string& app_id, Steps& steps) {
  auto unregistered = steps.run("unregister", [&]() -> Result<json> {
    if (auto s = site.peer.unregister(app_id); !s && s.error().code != Errc::not_found) {
      return s.error();
    }
    return ok();
  });
  if (!unregistered) {
    const Error& refused = unregistered.error();
    // The DR site said no (the app runs there, or a drill of it is in place) and nothing changed
    // anywhere: the app stays protected, its snapshots go on, and the error says why.
    if (refused.code == Errc::failed_precondition) {
      (void)update_app(site.store, app_id,
                       [&](state::AppRecord& app) { app.last_error = refused; });
      return refused;
    }
    return finish(site, app_id, refused, state::AppState::unprotected);
  }
  return finish(site, app_id, unmirror(site, app_id, steps), state::AppState::unprotected);
}

}  // namespace dr::workflow
