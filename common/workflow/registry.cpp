#include "workflow/registry.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "mapping/mapping.hpp"
#include "model/json_io.hpp"
#include "virt/inventory.hpp"
#include "workflow/app_records.hpp"
#include "workflow/drill.hpp"

namespace dr::workflow {
namespace {

model::Problems prefixed(const model::Problems& problems, const std::string& prefix) {
  model::Problems out;
  for (const auto& p : problems) out.push_back({prefix + p.pointer, p.message});
  return out;
}

Refusal refused(const model::Problems& problems, std::string message) {
  return Refusal{fail(Errc::invalid_argument, std::move(message)), problems};
}

Result<state::AppRecord> store_registration(DrSite& site, const std::string& app_id,
                                            const model::FirstDescription& first,
                                            const model::SecondDescription& second) {
  const std::int64_t generation = first.app.generation;
  auto app = site.store.get_app(app_id);
  if (!app) {
    if (app.error().code != Errc::not_found) return app.error();
    state::AppRecord fresh;
    fresh.id = app_id;
    fresh.role = state::AppRole::registered_replica;
    fresh.state = state::AppState::unprotected;
    fresh.peer_site = site.peer_site;
    app = site.store.upsert_app(fresh);
    if (!app) return app.error();
  }
  if (auto s = site.store.put_description(app_id, state::DescriptionKind::first, generation,
                                          model::to_text(model::to_json(first)));
      !s) {
    return s.error();
  }
  if (auto s = site.store.put_description(app_id, state::DescriptionKind::second, generation,
                                          model::to_text(model::to_json(second)));
      !s) {
    return s.error();
  }
  if (auto s = site.store.replace_mirror_pairs(app_id, mirror_pairs_of(second)); !s) {
    return s.error();
  }
  const bool same = app->generation == generation && app->state == state::AppState::protected_;
  if (same) return app;
  app->state = state::AppState::protecting;
  app->generation = generation;
  app->last_error.reset();
  return site.store.upsert_app(*app);
}

}  // namespace

Result<model::Inventory> site_inventory(DrSite& site) {
  auto inv = virt::inventory(site.hypervisor, site.site_name, &site.config);
  if (!inv) return inv.error();
  auto pools = site.storage.list_pools();
  if (!pools) return pools.error();
  for (const auto& pool : *pools) {
    const bool known = std::any_of(inv->pools.begin(), inv->pools.end(),
                                   [&](const auto& p) { return p.name == pool.name; });
    if (!known) {
      inv->pools.push_back({pool.name, static_cast<std::int64_t>(pool.available_bytes >> 30)});
    }
  }
  return inv;
}

Result<api::PoolPeers> accept_bootstrap(DrSite& site, const std::string& pool,
                                        const api::BootstrapRequest& request) {
  if (request.site != site.peer_site) {
    return fail(Errc::permission_denied,
                "this site pairs only with " + site.peer_site + ", not " + request.site);
  }
  if (!model::is_rbd_name(pool)) {
    return fail(Errc::invalid_argument,
                "'" + pool + "' is not an RBD pool name (not empty, no '/' or '@')");
  }
  if (auto s = site.storage.set_site_name(site.site_name); !s) return s.error();
  if (auto s = site.storage.enable_pool_mirroring(pool); !s) return s.error();
  auto peers = site.storage.list_peers(pool);
  if (!peers) return peers.error();
  const bool known = std::any_of(peers->begin(), peers->end(),
                                 [&](const auto& p) { return p.site_name == request.site; });
  if (!known) {
    if (auto s = site.storage.import_bootstrap_token(pool, {request.token},
                                                     storage::PeerDirection::rx_tx);
        !s) {
      return with_context(s.error(), "pool '" + pool + "'");
    }
    if (site.log) site.log("pool " + pool + ": peered with " + request.site);
    peers = site.storage.list_peers(pool);
    if (!peers) return peers.error();
  }
  // After the peer: a namespace mirrors only once its pool does.
  for (const auto& ns : request.namespaces) {
    if (auto s = site.storage.enable_pool_mirroring(model::pool_spec(pool, ns)); !s) return s.error();
  }
  api::PoolPeers answer{pool, {}};
  for (const auto& p : *peers) {
    answer.peers.push_back(
        {p.site_name, p.direction == storage::PeerDirection::rx_tx ? "rx-tx" : "rx-only"});
  }
  return answer;
}

Result<api::Registered, Refusal> register_app(DrSite& site, const std::string& app_id,
                                              const api::Registration& registration) {
  auto existing = site.store.get_app(app_id);
  if (existing && state::is_away(existing->state)) {
    return Refusal{fail(Errc::failed_precondition,
                        "app '" + app_id + "' is " + to_string(existing->state) + " at " +
                            site.site_name + "; it cannot be re-registered now"),
                   {}};
  }
  auto inventory = site_inventory(site);
  if (!inventory) return Refusal{inventory.error(), {}};

  const model::FirstDescription& first = registration.first;
  model::SecondDescription second;
  if (registration.mode == api::RegistrationMode::first) {
    const model::MappingPolicy policy = site.policy ? *site.policy : model::MappingPolicy{};
    auto generated = mapping::generate(first, policy, &*inventory);
    if (!generated) {
      return refused(prefixed(generated.error(), "/description"),
                     "app '" + app_id + "' cannot be mapped onto " + site.site_name);
    }
    second = std::move(*generated);
  } else {
    second = *registration.second;
    auto problems = mapping::validate(first, second, &*inventory);
    if (!problems.empty()) {
      return refused(prefixed(problems, "/description"), "the second description of app '" +
                                                             app_id + "' is not valid at " +
                                                             site.site_name);
    }
  }
  model::Problems problems;
  if (first.app.id != app_id) {
    problems.push_back({"/description/app/id",
                        "the description is of app '" + first.app.id + "', not '" + app_id + "'"});
  }
  if (first.app.site != site.peer_site) {
    problems.push_back({"/description/app/site", "the app runs at '" + first.app.site +
                                                     "', but this site's peer is '" +
                                                     site.peer_site + "'"});
  }
  if (!problems.empty()) {
    return refused(problems, "app '" + app_id + "' cannot be registered at " + site.site_name);
  }
  auto stored = store_registration(site, app_id, first, second);
  if (!stored) return Refusal{stored.error(), {}};
  if (site.log) {
    site.log("app " + app_id + " generation " + std::to_string(first.app.generation) +
             " registered (mode " + api::to_string(registration.mode) + ", " +
             to_string(stored->state) + ")");
  }
  return api::Registered{app_id, stored->state, first.app.generation, std::move(second)};
}

api::DrImageView pair_view(DrSite& site, const state::MirrorPairRecord& pair,
                           std::optional<state::Timestamp>* synced_as_of) {
  api::DrImageView v;
  v.target = spec(pair.target);
  auto info = site.storage.mirror_info(spec(pair.target));
  if (!info) return v;  // not there yet: rbd-mirror creates it
  v.role = info->role;
  if (info->role != storage::ImageRole::non_primary) return v;
  auto lag = site.storage.replication_lag(spec(pair.target));
  if (!lag || !lag->newest_synced) return v;
  v.synced = true;
  v.lag_seconds = std::chrono::duration_cast<std::chrono::seconds>(lag->age).count();
  if (synced_as_of != nullptr && lag->synced_as_of) {
    *synced_as_of = std::chrono::time_point_cast<std::chrono::milliseconds>(*lag->synced_as_of);
  }
  return v;
}

void refresh_protection(DrSite& site) {
  auto apps = site.store.list_apps();
  if (!apps) return;
  for (const auto& app : *apps) {
    if (app.state != state::AppState::protecting && app.state != state::AppState::protected_) {
      continue;
    }
    auto pairs = site.store.mirror_pairs(app.id);
    if (!pairs) continue;
    bool all_synced = !pairs->empty();
    for (const auto& p : *pairs) {
      state::MirrorStatus status;
      const auto v = pair_view(site, p, &status.last_sync_at);
      all_synced = all_synced && v.synced;
      status.text = std::string(v.role ? storage::to_string(*v.role) : "absent") +
                    (v.synced ? ", synced" : ", not synced yet");
      status.lag_seconds = v.lag_seconds;
      status.checked_at =
          std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
      (void)site.store.update_mirror_status(app.id, p.source, status);
    }
    if (all_synced && app.state == state::AppState::protecting) {
      auto updated = app;
      updated.state = state::AppState::protected_;
      if (site.store.upsert_app(updated) && site.log) {
        site.log("app " + app.id + " generation " + std::to_string(app.generation) +
                 " protected: every mirror pair synced");
      }
    }
  }
}

Result<api::DrAppView> dr_view(DrSite& site, const std::string& app_id) {
  auto app = site.store.get_app(app_id);
  if (!app) return app.error();
  auto pairs = site.store.mirror_pairs(app_id);
  if (!pairs) return pairs.error();
  api::DrAppView view{app_id, app->state, app->generation, {}};
  for (const auto& p : *pairs) view.images.push_back(pair_view(site, p));
  return view;
}

Status unregister_app(DrSite& site, const std::string& app_id) {
  auto app = site.store.get_app(app_id);
  if (!app) return app.error();
  if (state::is_away(app->state)) {
    return fail(Errc::failed_precondition, "app '" + app_id + "' is " + to_string(app->state) +
                                               " at " + site.site_name +
                                               "; it is not unregistered");
  }
  auto drill = drill_in_place(site.store, app_id);
  if (!drill) return drill.error();
  if (*drill) {
    return fail(Errc::failed_precondition,
                "app '" + app_id + "' has a drill in place at " + site.site_name + " (job " +
                    std::to_string((*drill)->id) + "): clean it up there first (drpair drill " +
                    app_id + " --cleanup), then unprotect");
  }
  if (auto s = site.store.delete_app(app_id, app->version); !s) return s.error();
  if (site.log) site.log("app " + app_id + " unregistered");
  return {};
}

Result<api::Registered> LocalDrPeer::register_app(const std::string& app_id,
                                                  const api::Registration& registration) {
  auto registered = workflow::register_app(site_, app_id, registration);
  if (registered) return std::move(*registered);
  Error e = registered.error().error;
  for (const auto& p : registered.error().problems) e.message += "; " + p.pointer + ": " + p.message;
  return e;
}

}  // namespace dr::workflow
