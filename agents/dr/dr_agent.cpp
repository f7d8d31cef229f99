#include "dr_agent.hpp"

#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "mapping/mapping.hpp"
#include "model/json_io.hpp"
#include "transport/error_mapping.hpp"
#include "virt/inventory.hpp"
#include "virt/restore.hpp"
#include "webhook/webhook.hpp"

namespace dr::drsite {
namespace {

using nlohmann::json;
using service::Runtime;
using transport::Method;
using transport::Request;
using transport::Response;
using Clock = std::chrono::steady_clock;

using service::image_name;
using service::with_context;
storage::ImageSpec spec(const state::ImageRef& ref) { return service::image_spec(ref); }

model::Problems prefixed(const model::Problems& problems, const std::string& prefix) {
  model::Problems out;
  for (const auto& p : problems) out.push_back({prefix + p.pointer, p.message});
  return out;
}

// What this site sees of one pair's DR image.
struct PairView {
  std::string role = "absent";  // "non_primary", "primary", "not_mirrored", "absent"
  bool synced = false;
  std::optional<std::int64_t> lag_seconds;
  std::optional<state::Timestamp> synced_as_of;
};

class DrAgent final : public service::Service {
 public:
  explicit DrAgent(Runtime& rt)
      : rt_(rt),
        executor_(
            *rt.store,
            [this](const state::JobRecord& job, jobs::StepRunner& steps) {
              return run_job(job, steps);
            },
            rt.log) {}

  jobs::JobExecutor& executor() override { return executor_; }

  void add_routes(transport::Router& router) override {
    using transport::kAnyCaller;
    using transport::kOperatorOnly;
    using transport::kPeerOnly;
    router.add(Method::get, "/v1/apps", kOperatorOnly, [this](const Request&) { return list(); });
    router.add(Method::get, "/v1/apps/{app}", kOperatorOnly,
               [this](const Request& r) { return detail(r.param("app")); });
    router.add(Method::post, "/v1/apps/{app}/failover", kOperatorOnly,
               [this](const Request& r) { return operator_failover(r); });
    router.add(Method::post, "/v1/hooks/failover", kAnyCaller,
               [this](const Request& r) { return signed_hook(r); });
    router.add(Method::post, "/v1/hooks/alertmanager", kOperatorOnly,
               [this](const Request& r) { return alertmanager_hook(r); });
    router.add(Method::get, "/v1/peer/inventory", kPeerOnly,
               [this](const Request&) { return peer_inventory(); });
    router.add(Method::post, "/v1/peer/pools/{pool}/bootstrap", kPeerOnly,
               [this](const Request& r) { return peer_bootstrap(r); });
    router.add(Method::put, "/v1/peer/apps/{app}", kPeerOnly,
               [this](const Request& r) { return peer_register(r); });
    router.add(Method::get, "/v1/peer/apps/{app}", kPeerOnly,
               [this](const Request& r) { return peer_view(r.param("app")); });
    router.add(Method::delete_, "/v1/peer/apps/{app}", kPeerOnly,
               [this](const Request& r) { return peer_unregister(r.param("app")); });
  }

  void add_metrics(metrics::Exposition&) override {}

  void run_loops(std::stop_token stop) override {
    while (!stop.stop_requested()) {
      refresh_pairs();
      (void)rt_.peer->get("/healthz");  // keeps peer reachability current
      for (int i = 0; i < 50 && !stop.stop_requested(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }

 private:
  // ---- operator routes --------------------------------------------------------------------------

  // The app's name and VM count from the second description of its generation. Reading a
  // 1,000-VM description takes tens of milliseconds, so each generation is read once and kept
  // (registration forgets what it replaces).
  std::pair<std::string, int> name_and_vms(const state::AppRecord& app) {
    {
      std::lock_guard lock(summaries_mutex_);
      const auto it = summaries_.find(app.id);
      if (it != summaries_.end() && it->second.generation == app.generation) {
        return {it->second.name, it->second.vms};
      }
    }
    auto d = rt_.store->get_description(app.id, state::DescriptionKind::second, app.generation);
    if (!d) return {app.id, 0};
    auto second = model::parse_second_description(d->json);
    if (!second) return {app.id, 0};
    const Summary summary{app.generation, second->app.name, static_cast<int>(second->vms.size())};
    std::lock_guard lock(summaries_mutex_);
    summaries_[app.id] = summary;
    return {summary.name, summary.vms};
  }
  void forget_summary(const std::string& app_id) {
    std::lock_guard lock(summaries_mutex_);
    summaries_.erase(app_id);
  }

  Response list() {
    auto apps = rt_.store->list_apps();
    if (!apps) return transport::error_response(apps.error());
    json out = json::array();
    for (const auto& a : *apps) {
      const auto [name, vms] = name_and_vms(a);
      out.push_back(service::app_json(a, name, vms));
    }
    return Response::json(200, {{"apps", out}});
  }

  Response detail(const std::string& app_id) {
    auto app = rt_.store->get_app(app_id);
    if (!app) return transport::error_response(app.error());
    const auto [name, vms] = name_and_vms(*app);
    json out = service::app_json(*app, name, vms);
    out["peer"] = rt_.peer_tracker.to_json(rt_.config.peer.site);
    auto pairs = rt_.store->mirror_pairs(app_id);
    out["images"] = pairs ? service::pairs_json(*pairs) : json::array();
    for (auto& image : out["images"]) image["lastSnapshotAt"] = nullptr;
    out["jobs"] = service::recent_jobs(*rt_.store, app_id);
    return Response::json(200, out);
  }

  Response operator_failover(const Request& req) {
    model::Problems problems;
    const json& body = req.json;
    if (!body.is_object()) {
      return transport::error_response(model::Problems{{"", "expected an object"}});
    }
    webhook::FailoverRequest request;
    request.app = req.param("app");
    const auto type_text = body.value("type", std::string());
    if (auto t = webhook::parse_failover_type(type_text)) {
      request.type = *t;
    } else {
      problems.push_back({"/type", "expected \"planned\" or \"disaster\""});
    }
    if (body.contains("force") && !body["force"].is_boolean()) {
      problems.push_back({"/force", "expected a boolean"});
    } else {
      request.force = body.value("force", false);
    }
    if (body.contains("reason") && !body["reason"].is_string()) {
      problems.push_back({"/reason", "expected a string"});
    } else {
      request.reason = body.value("reason", std::string());
    }
    if (body.contains("idempotencyKey") && (!body["idempotencyKey"].is_string() ||
                                            body["idempotencyKey"].get<std::string>().empty())) {
      problems.push_back({"/idempotencyKey", "expected a non-empty string"});
    } else {
      request.idempotency_key = body.value("idempotencyKey", std::string());
    }
    if (!problems.empty()) return transport::error_response(problems);
    auto created = request_failover(request, "operator " + req.caller.name);
    if (!created) return transport::error_response(created.error());
    return service::job_accepted(*rt_.store, *created);
  }

  Response signed_hook(const Request& req) {
    if (!rt_.config.webhooks) {
      return transport::error_response("not_found",
                                       "webhooks are not configured at " + rt_.config.site_name());
    }
    const auto& hooks = *rt_.config.webhooks;
    const auto header = req.headers.get(webhook::kSignatureHeader);
    if (!header) {
      return transport::error_response(transport::kUnauthenticated,
                                       "missing header " + std::string(webhook::kSignatureHeader));
    }
    const auto check = webhook::verify_signature(*header, req.body, hooks.secret, hooks.max_age,
                                                 std::chrono::system_clock::now());
    if (!check.ok) {
      rt_.log("webhook refused: " + check.reason);
      return transport::error_response(transport::kUnauthenticated, check.reason);
    }
    auto fresh = rt_.store->remember_webhook(webhook::delivery_key(check.timestamp, req.body),
                                             hooks.max_age * 2);
    if (!fresh) return transport::error_response(fresh.error());
    if (!*fresh) {
      return transport::error_response(
          "already_exists",
          "replayed webhook delivery (this signature was seen before); a retry must be signed "
          "anew, with the same idempotencyKey");
    }
    auto request = webhook::parse_failover_request(req.body);
    if (!request)
      return transport::error_response(request.error(), "the webhook body is not valid");
    auto created = request_failover(*request, "signed webhook");
    if (!created) return transport::error_response(created.error());
    return service::job_accepted(*rt_.store, *created);
  }

  Response alertmanager_hook(const Request& req) {
    if (!rt_.config.webhooks || !rt_.config.webhooks->alertmanager) {
      return transport::error_response(
          "not_found", "the Alertmanager webhook is not configured at " + rt_.config.site_name());
    }
    const auto& am = *rt_.config.webhooks->alertmanager;
    webhook::AlertmanagerOptions options;
    options.app_label = am.app_label;
    options.type = webhook::parse_failover_type(am.type).value_or(webhook::FailoverType::disaster);
    auto requests = webhook::alerts_to_failovers(req.body, options);
    if (!requests) {
      return transport::error_response(requests.error(), "not an Alertmanager webhook payload");
    }
    json started = json::array();
    json ignored = json::array();
    for (const auto& r : *requests) {
      auto created = request_failover(r, "alertmanager");
      if (!created) {
        ignored.push_back({{"app", r.app}, {"reason", created.error().message}});
        continue;
      }
      started.push_back(service::job_json(created->job));
    }
    return Response::json(202, {{"jobs", started}, {"ignored", ignored}});
  }

  // One entry point for every failover request (operator, webhook, Alertmanager).
  Result<state::CreatedJob> request_failover(const webhook::FailoverRequest& r,
                                             const std::string& who) {
    auto app = rt_.store->get_app(r.app);
    if (!app) return app.error();
    const auto type = r.type == webhook::FailoverType::planned ? state::JobType::failover_planned
                                                               : state::JobType::failover_disaster;
    auto jobs = rt_.store->list_jobs(r.app);
    if (!jobs) return jobs.error();
    for (const auto& j : *jobs) {
      if (!r.idempotency_key.empty() && j.idempotency_key == r.idempotency_key) {
        return state::CreatedJob{j, false};
      }
    }
    for (const auto& j : *jobs) {
      const bool unfinished =
          j.state == state::JobState::pending || j.state == state::JobState::running;
      if (!unfinished) continue;
      if (j.type == type) return state::CreatedJob{j, false};
      return fail(Errc::failed_precondition, "app '" + r.app + "' has job " + std::to_string(j.id) +
                                                 " (" + to_string(j.type) +
                                                 ") running; wait for it");
    }
    if (app->state != state::AppState::protected_ && app->state != state::AppState::protecting &&
        app->state != state::AppState::failed) {
      return fail(Errc::failed_precondition,
                  "app '" + r.app + "' is " + to_string(app->state) +
                      (app->state == state::AppState::failed_over
                           ? ": it already runs at " + rt_.config.site_name()
                           : ": only a protected app fails over"));
    }
    const json request{{"type", webhook::to_string(r.type)},
                       {"force", r.force},
                       {"reason", r.reason},
                       {"requestedBy", who}};
    std::optional<std::string_view> key;
    if (!r.idempotency_key.empty()) key = r.idempotency_key;
    auto created = rt_.store->create_job(r.app, type, key, request.dump());
    if (!created) return created.error();
    if (created->created) {
      rt_.log(std::string(to_string(type)) + " of app " + r.app + " requested by " + who +
              " (job " + std::to_string(created->job.id) + ")");
      executor_.start(created->job.id);
    }
    return created;
  }

  // ---- peer routes ------------------------------------------------------------------------------

  // libvirt's view of the site, with the pools of the site's Ceph cluster: replicas live there
  // whether or not a libvirt storage pool is defined over them.
  Result<model::Inventory> site_inventory() {
    auto inv = virt::inventory(*rt_.hypervisor, rt_.config.site_name(), &rt_.config.site);
    if (!inv) return inv.error();
    auto pools = rt_.storage->list_pools();
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

  Response peer_inventory() {
    auto inv = site_inventory();
    if (!inv) return transport::error_response(inv.error());
    return Response::json(200, model::to_json(*inv));
  }

  Response peer_bootstrap(const Request& req) {
    const auto& pool = req.param("pool");
    model::Problems problems;
    if (!req.json.is_object()) problems.push_back({"", "expected an object"});
    const auto site = req.json.is_object() ? req.json.value("site", std::string()) : "";
    const auto token = req.json.is_object() ? req.json.value("token", std::string()) : "";
    if (req.json.is_object() && site.empty())
      problems.push_back({"/site", "expected a non-empty string"});
    if (req.json.is_object() && token.empty())
      problems.push_back({"/token", "expected a non-empty string"});
    if (!problems.empty()) return transport::error_response(problems);
    if (site != rt_.config.peer.site) {
      return transport::error_response(
          "permission_denied",
          "this site pairs only with " + rt_.config.peer.site + ", not " + site);
    }
    if (auto s = rt_.storage->set_site_name(rt_.config.site_name()); !s) {
      return transport::error_response(s.error());
    }
    if (auto s = rt_.storage->enable_pool_mirroring(pool); !s)
      return transport::error_response(s.error());
    auto peers = rt_.storage->list_peers(pool);
    if (!peers) return transport::error_response(peers.error());
    bool known = false;
    for (const auto& p : *peers) known = known || p.site_name == site;
    if (!known) {
      if (auto s =
              rt_.storage->import_bootstrap_token(pool, {token}, storage::PeerDirection::rx_tx);
          !s) {
        return transport::error_response(with_context(s.error(), "pool '" + pool + "'"));
      }
      rt_.log("pool " + pool + ": peered with " + site);
      peers = rt_.storage->list_peers(pool);
      if (!peers) return transport::error_response(peers.error());
    }
    json list = json::array();
    for (const auto& p : *peers) {
      list.push_back(
          {{"site", p.site_name},
           {"direction", p.direction == storage::PeerDirection::rx_tx ? "rx-tx" : "rx-only"}});
    }
    return Response::json(200, {{"pool", pool}, {"peers", list}});
  }

  Response peer_register(const Request& req) {
    const auto& app_id = req.param("app");
    const json& body = req.json;
    if (!body.is_object())
      return transport::error_response(model::Problems{{"", "expected an object"}});
    const auto mode = body.value("mode", std::string());
    if (mode != "first" && mode != "second") {
      return transport::error_response(
          model::Problems{{"/mode", "expected \"first\" or \"second\""}});
    }
    if (!body.contains("description")) {
      return transport::error_response(
          model::Problems{{"", "missing required field 'description'"}});
    }
    auto existing = rt_.store->get_app(app_id);
    if (existing && (existing->state == state::AppState::failing_over ||
                     existing->state == state::AppState::failed_over ||
                     existing->state == state::AppState::failing_back)) {
      return transport::error_response(
          "failed_precondition", "app '" + app_id + "' is " + to_string(existing->state) + " at " +
                                     rt_.config.site_name() + "; it cannot be re-registered now");
    }
    auto inventory = site_inventory();
    if (!inventory) return transport::error_response(inventory.error());

    model::FirstDescription first;
    model::SecondDescription second;
    if (mode == "first") {
      auto parsed = model::read_first_description(body["description"]);
      if (!parsed) return transport::error_response(prefixed(parsed.error(), "/description"));
      first = std::move(*parsed);
      const model::MappingPolicy policy =
          rt_.config.mapping_policy ? *rt_.config.mapping_policy : model::MappingPolicy{};
      auto generated = mapping::generate(first, policy, &*inventory);
      if (!generated) {
        return transport::error_response(
            prefixed(generated.error(), "/description"),
            "app '" + app_id + "' cannot be mapped onto " + rt_.config.site_name());
      }
      second = std::move(*generated);
    } else {
      auto parsed = model::read_second_description(body["description"]);
      if (!parsed) return transport::error_response(prefixed(parsed.error(), "/description"));
      second = std::move(*parsed);
      if (!body.contains("first")) {
        return transport::error_response(model::Problems{
            {"", "mode second needs 'first': the first description the second was mapped from"}});
      }
      auto source = model::read_first_description(body["first"]);
      if (!source) return transport::error_response(prefixed(source.error(), "/first"));
      first = std::move(*source);
      auto problems = mapping::validate(first, second, &*inventory);
      if (!problems.empty()) {
        return transport::error_response(prefixed(problems, "/description"),
                                         "the second description of app '" + app_id +
                                             "' is not valid at " + rt_.config.site_name());
      }
    }
    model::Problems problems;
    if (first.app.id != app_id) {
      problems.push_back({"/description/app/id", "the description is of app '" + first.app.id +
                                                     "', not '" + app_id + "'"});
    }
    if (first.app.site != rt_.config.peer.site) {
      problems.push_back({"/description/app/site", "the app runs at '" + first.app.site +
                                                       "', but this site's peer is '" +
                                                       rt_.config.peer.site + "'"});
    }
    for (std::size_t i = 0; i < second.replication.size(); ++i) {
      const auto& r = second.replication[i];
      if (r.source != r.target) {
        problems.push_back({"/description/replication/" + std::to_string(i) + "/target",
                            "RBD mirroring keeps the pool and image name: the target of '" +
                                r.source.pool + "/" + r.source.image + "' must be the same, not '" +
                                r.target.pool + "/" + r.target.image + "'"});
      }
    }
    if (!problems.empty()) {
      return transport::error_response(
          problems, "app '" + app_id + "' cannot be registered at " + rt_.config.site_name());
    }
    const std::int64_t generation = first.app.generation;
    auto stored = store_registration(app_id, first, second, generation);
    if (!stored) return transport::error_response(stored.error());
    rt_.log("app " + app_id + " generation " + std::to_string(generation) + " registered (mode " +
            mode + ", " + to_string(stored->state) + ")");
    return Response::json(200, {{"app", app_id},
                                {"state", to_string(stored->state)},
                                {"generation", generation},
                                {"second", model::to_json(second)}});
  }

  Result<state::AppRecord> store_registration(const std::string& app_id,
                                              const model::FirstDescription& first,
                                              const model::SecondDescription& second,
                                              std::int64_t generation) {
    auto app = rt_.store->get_app(app_id);
    if (!app) {
      if (app.error().code != Errc::not_found) return app.error();
      state::AppRecord fresh;
      fresh.id = app_id;
      fresh.role = state::AppRole::registered_replica;
      fresh.state = state::AppState::unprotected;
      fresh.peer_site = rt_.config.peer.site;
      app = rt_.store->upsert_app(fresh);
      if (!app) return app.error();
    }
    if (auto s = rt_.store->put_description(app_id, state::DescriptionKind::first, generation,
                                            model::to_text(model::to_json(first)));
        !s) {
      return s.error();
    }
    if (auto s = rt_.store->put_description(app_id, state::DescriptionKind::second, generation,
                                            model::to_text(model::to_json(second)));
        !s) {
      return s.error();
    }
    forget_summary(app_id);
    const auto pairs = service::mirror_pairs_of(second);
    if (auto s = rt_.store->replace_mirror_pairs(app_id, pairs); !s) return s.error();
    const bool same = app->generation == generation && app->state == state::AppState::protected_;
    if (!same) {
      app->state = state::AppState::protecting;
      app->generation = generation;
      app->last_error.reset();
      auto updated = rt_.store->upsert_app(*app);
      if (!updated) return updated.error();
      return updated;
    }
    return app;
  }

  PairView view_pair(const state::MirrorPairRecord& p) {
    PairView v;
    auto info = rt_.storage->mirror_info(spec(p.target));
    if (!info) return v;  // not there yet: rbd-mirror creates it
    v.role = to_string(info->role);
    if (info->role != storage::ImageRole::non_primary) return v;
    auto lag = rt_.storage->replication_lag(spec(p.target));
    if (!lag || !lag->newest_synced) return v;
    v.synced = true;
    v.lag_seconds = std::chrono::duration_cast<std::chrono::seconds>(lag->age).count();
    if (lag->synced_as_of) {
      v.synced_as_of = std::chrono::time_point_cast<std::chrono::milliseconds>(*lag->synced_as_of);
    }
    return v;
  }

  Response peer_view(const std::string& app_id) {
    auto app = rt_.store->get_app(app_id);
    if (!app) return transport::error_response(app.error());
    auto pairs = rt_.store->mirror_pairs(app_id);
    if (!pairs) return transport::error_response(pairs.error());
    json images = json::array();
    for (const auto& p : *pairs) {
      const auto v = view_pair(p);
      images.push_back({{"target", image_name(p.target)},
                        {"role", v.role},
                        {"synced", v.synced},
                        {"lagSeconds", v.lag_seconds ? json(*v.lag_seconds) : json(nullptr)}});
    }
    return Response::json(200, {{"app", app_id},
                                {"state", to_string(app->state)},
                                {"generation", app->generation},
                                {"images", images}});
  }

  // Unregister: forget the app. The DR copies go when the production agent disables mirroring
  // of its primaries (rbd-mirror removes the non-primary images).
  Response peer_unregister(const std::string& app_id) {
    auto app = rt_.store->get_app(app_id);
    if (!app) return transport::error_response(app.error());
    if (app->state == state::AppState::failing_over || app->state == state::AppState::failed_over) {
      return transport::error_response("failed_precondition",
                                       "app '" + app_id + "' is " + to_string(app->state) + " at " +
                                           rt_.config.site_name() + "; it is not unregistered");
    }
    if (auto s = rt_.store->delete_app(app_id, app->version); !s) {
      return transport::error_response(s.error());
    }
    forget_summary(app_id);
    rt_.log("app " + app_id + " unregistered");
    return Response::no_content();
  }

  // ---- the monitor ------------------------------------------------------------------------------

  void refresh_pairs() {
    auto apps = rt_.store->list_apps();
    if (!apps) return;
    for (const auto& app : *apps) {
      if (app.state != state::AppState::protecting && app.state != state::AppState::protected_)
        continue;
      auto pairs = rt_.store->mirror_pairs(app.id);
      if (!pairs) continue;
      bool all_synced = !pairs->empty();
      for (const auto& p : *pairs) {
        const auto v = view_pair(p);
        all_synced = all_synced && v.synced;
        state::MirrorStatus status;
        status.text = v.role + (v.synced ? ", synced" : ", not synced yet");
        status.last_sync_at = v.synced_as_of;
        status.lag_seconds = v.lag_seconds;
        status.checked_at = service::now();
        (void)rt_.store->update_mirror_status(app.id, p.source, status);
      }
      if (all_synced && app.state == state::AppState::protecting) {
        auto updated = app;
        updated.state = state::AppState::protected_;
        if (auto r = rt_.store->upsert_app(updated)) {
          rt_.log("app " + app.id + " generation " + std::to_string(app.generation) +
                  " protected: every mirror pair synced");
        }
      }
    }
  }

  // ---- failover jobs ----------------------------------------------------------------------------

  Status set_state(const std::string& app_id, state::AppState to,
                   const std::optional<Error>& error) {
    return service::update_app(*rt_.store, app_id, [&](state::AppRecord& app) {
      app.state = to;
      app.last_error = error;
    });
  }

  Status run_job(const state::JobRecord& job, jobs::StepRunner& steps) {
    if (job.type != state::JobType::failover_planned &&
        job.type != state::JobType::failover_disaster) {
      return fail(Errc::invalid_argument,
                  std::string("the DR agent does not run ") + to_string(job.type) + " jobs");
    }
    auto request = json::parse(job.request_json, nullptr, false);
    const bool force = request.is_object() && request.value("force", false);
    auto app = rt_.store->get_app(job.app_id);
    if (!app) return app.error();
    const auto before = app->state;

    if (job.type == state::JobType::failover_disaster) {
      auto fenced = steps.run("fence", [&]() { return fence(job.app_id, force); });
      if (!fenced) {
        // Nothing changed: the app keeps its state (unless an earlier run had moved it).
        if (before == state::AppState::failing_over) {
          (void)set_state(job.app_id, state::AppState::failed, fenced.error());
        }
        return fenced.error();
      }
    }
    if (auto s = set_state(job.app_id, state::AppState::failing_over, std::nullopt); !s) return s;
    auto outcome = failover(job, steps);
    if (!outcome) {
      if (outcome.error().code == Errc::aborted && steps.stop_requested()) return outcome.error();
      (void)set_state(job.app_id, state::AppState::failed, outcome.error());
      return outcome.error();
    }
    return set_state(job.app_id, state::AppState::failed_over, std::nullopt);
  }

  // Disaster fencing: the production site must be gone, or no longer hold the app as primary.
  Result<json> fence(const std::string& app_id, bool force) {
    auto answer = rt_.peer_fence->get("/v1/peer/apps/" + service::path_segment(app_id));
    if (!answer) {
      const auto code = answer.error().code;
      if (code == Errc::unavailable || code == Errc::deadline_exceeded) {
        return jobs::ok(json{{"production", "unreachable"}, {"detail", answer.error().message}});
      }
      if (code == Errc::not_found) return jobs::ok(json{{"production", "does not hold the app"}});
      if (force) return jobs::ok(json{{"production", "answered with an error"}, {"forced", true}});
      return fail(Errc::failed_precondition,
                  "fencing app '" + app_id + "': " + rt_.config.peer.site +
                      " answers but its answer is an error (" + answer.error().message +
                      "); fail over with force if it is really down");
    }
    auto view = service::body_json(*answer, "fence");
    if (!view) return view.error();
    int primary = 0;
    for (const auto& image : (*view)["images"]) primary += image.value("role", "") == "primary";
    const int running = view->value("vmsRunning", 0);
    if (primary == 0 && running == 0) {
      return jobs::ok(json{{"production", "answers; the app is stopped and demoted there"}});
    }
    const std::string holds = std::to_string(primary) + " image(s) primary, " +
                              std::to_string(running) + " VM(s) running";
    if (force) {
      rt_.log("fence of app " + app_id + " overridden by force: " + rt_.config.peer.site +
              " still answers (" + holds + ")");
      return jobs::ok(
          json{{"production", "answers and holds the app: " + holds}, {"forced", true}});
    }
    return fail(Errc::failed_precondition,
                "fencing refused: " + rt_.config.peer.site + " answers and still holds app '" +
                    app_id + "' as primary (" + holds +
                    "); use a planned failover, or a disaster failover with force if that site "
                    "must be abandoned (a split brain is then possible)");
  }

  Status failover(const state::JobRecord& job, jobs::StepRunner& steps) {
    const auto& app_id = job.app_id;
    auto app = rt_.store->get_app(app_id);
    if (!app) return app.error();
    auto second_text =
        rt_.store->get_description(app_id, state::DescriptionKind::second, app->generation);
    if (!second_text) return second_text.error();
    auto second = model::parse_second_description(second_text->json);
    if (!second)
      return fail(Errc::internal,
                  "the stored second description of '" + app_id + "' is unreadable");
    auto pairs = rt_.store->mirror_pairs(app_id);
    if (!pairs) return pairs.error();
    const auto timeout = rt_.config.failover.promote_timeout;

    if (job.type == state::JobType::failover_planned) {
      auto demoted = steps.run("demote-production", [&]() -> Result<json> {
        transport::ClientRequest request;
        request.method = Method::post;
        request.target = "/v1/peer/apps/" + service::path_segment(app_id) + "/demote";
        // The production agent shuts the VMs down first: this call takes minutes, not seconds.
        request.timeout = rt_.config.failover.demote_timeout;
        auto r = rt_.peer->call(request);
        if (!r) return with_context(r.error(), "planned failover needs " + rt_.config.peer.site);
        return service::body_json(*r, "demote");
      });
      if (!demoted) return demoted.error();
      for (const auto& p : *pairs) {
        auto waited = steps.run("await-demotion:" + image_name(p.target), [&]() -> Result<json> {
          for (const auto& image : (*demoted)["images"]) {
            if (image.value("image", "") != image_name(p.source)) continue;
            const storage::MirrorSnapshotRef ref{
                image["demotion"].value("mirrorUuid", ""),
                image["demotion"].value("snapId", std::uint64_t{0})};
            auto info = rt_.storage->mirror_info(spec(p.target));
            if (info && info->role == storage::ImageRole::primary)
              return jobs::ok(json{{"already", "primary"}});
            if (auto s =
                    rt_.storage->wait_for_snapshot(spec(p.target), ref, Clock::now() + timeout);
                !s) {
              return s.error();
            }
            return jobs::ok(json{{"snapId", ref.snap_id}});
          }
          return fail(Errc::internal,
                      "the production agent did not demote " + image_name(p.source));
        });
        if (!waited) return waited.error();
      }
    }
    const auto kind = job.type == state::JobType::failover_planned ? storage::Promotion::planned
                                                                   : storage::Promotion::forced;
    // Every image at once: a forced promote waits seconds for the lost peer, per image.
    std::vector<std::future<Result<json>>> promotions;
    for (const auto& p : *pairs) {
      promotions.push_back(std::async(std::launch::async, [&, p] {
        return steps.run("promote:" + image_name(p.target), [&]() -> Result<json> {
          auto info = rt_.storage->mirror_info(spec(p.target));
          if (!info) return info.error();
          if (info->role == storage::ImageRole::primary)
            return jobs::ok(json{{"already", "primary"}});
          if (auto s = rt_.storage->promote(spec(p.target), kind); !s) return s.error();
          return jobs::ok(
              json{{"promotion", kind == storage::Promotion::planned ? "planned" : "forced"}});
        });
      }));
    }
    std::optional<Error> promote_error;
    for (auto& f : promotions) {
      auto promoted = f.get();
      if (!promoted && !promote_error) promote_error = promoted.error();
    }
    if (promote_error) return *promote_error;
    jobs::StoreRestoreJournal journal(*rt_.store, job.id);
    const auto report =
        virt::RestoreWorkflow(*second, rt_.config.site, *rt_.hypervisor, rt_.workers, journal)
            .run();
    if (report.failure) {
      return with_context(report.failure->error, "restore step '" + report.failure->step + "'");
    }
    if (!report.ok()) return fail(Errc::internal, "restore ended but not every VM runs");
    auto reported = steps.run("report", [&]() -> Result<json> {
      auto doc = json::parse(virt::report_json(report), nullptr, false);
      return jobs::ok(doc.is_discarded() ? json::object() : doc);
    });
    if (!reported) return reported.error();
    return {};
  }

  struct Summary {
    std::int64_t generation = 0;
    std::string name;
    int vms = 0;
  };

  Runtime& rt_;
  jobs::JobExecutor executor_;
  std::mutex summaries_mutex_;
  std::map<std::string, Summary> summaries_;  // by app id
};

}  // namespace

std::unique_ptr<service::Service> make_dr_agent(service::Runtime& runtime) {
  return std::make_unique<DrAgent>(runtime);
}

}  // namespace dr::drsite
