#include "dr_agent.hpp"

#include <map>
#include <mutex>
#include <thread>

#include "api/http_peers.hpp"
#include "model/json_io.hpp"
#include "model/json_reader.hpp"
#include "transport/error_mapping.hpp"
#include "webhook/webhook.hpp"
#include "workflow/app_records.hpp"
#include "workflow/drill.hpp"
#include "workflow/failback.hpp"
#include "workflow/failover.hpp"
#include "workflow/registry.hpp"
#include "workflow/snapshot_schedule.hpp"

namespace dr::drsite {
namespace {

using nlohmann::json;
using service::Runtime;
using transport::Method;
using transport::Request;
using transport::Response;

class DrAgent final : public service::Service {
 public:
  explicit DrAgent(Runtime& rt)
      : rt_(rt),
        peer_(*rt.peer, std::chrono::duration_cast<std::chrono::milliseconds>(
                            rt.config.failover.demote_timeout)),
        fence_peer_(*rt.peer_fence),
        site_{*rt.store,
              *rt.storage,
              *rt.hypervisor,
              rt.workers,
              rt.config.site,
              rt.config.peer.site,
              peer_,
              fence_peer_,
              std::chrono::duration_cast<std::chrono::milliseconds>(
                  rt.config.failover.promote_timeout),
              rt.config.failover.parallelism,
              rt.log,
              rt.config.failover.shutdown_timeout,
              std::chrono::duration_cast<std::chrono::milliseconds>(
                  rt.config.protection.replication_timeout)},
        schedule_(*rt.store, *rt.storage,
                  std::chrono::duration_cast<std::chrono::seconds>(
                      rt.config.protection.snapshot_interval),
                  rt.config.protection.parallelism, rt.log),
        registry_{*rt.store,        *rt.storage,          *rt.hypervisor,
                  rt.config.site,   rt.config.site_name(), rt.config.peer.site,
                  rt.config.mapping_policy, rt.log},
        executor_(
            *rt.store,
            [this](const state::JobRecord& job, workflow::Steps& steps) {
              return run_job(job, steps);
            },
            rt.log) {}

  jobs::JobExecutor& executor() override { return executor_; }

  void add_routes(transport::Router& router) override {
    using transport::kAnyCaller;
    using transport::kOperatorOnly;
    using transport::kReaders;
    using transport::kPeerOnly;
    router.add(Method::get, "/v1/apps", kReaders, [this](const Request&) { return list(); });
    router.add(Method::get, "/v1/apps/{app}", kReaders,
               [this](const Request& r) { return detail(r.param("app")); });
    router.add(Method::post, "/v1/apps/{app}/failover", kOperatorOnly,
               [this](const Request& r) { return operator_failover(r); });
    router.add(Method::post, "/v1/apps/{app}/reprotect", kOperatorOnly, [this](const Request& r) {
      return operator_lifecycle(r, state::JobType::reprotect);
    });
    router.add(Method::post, "/v1/apps/{app}/failback", kOperatorOnly, [this](const Request& r) {
      return operator_lifecycle(r, state::JobType::failback);
    });
    router.add(Method::post, "/v1/apps/{app}/drill", kOperatorOnly, [this](const Request& r) {
      return operator_lifecycle(r, state::JobType::drill);
    });
    router.add(Method::post, "/v1/apps/{app}/drill/cleanup", kOperatorOnly,
               [this](const Request& r) {
                 return operator_lifecycle(r, state::JobType::drill_cleanup);
               });
    // The hooks read their own bodies: the signed one only after its HMAC over the raw bytes.
    router.add(
        Method::post, "/v1/hooks/failover", kAnyCaller,
        [this](const Request& r) { return signed_hook(r); }, {.body = transport::Body::raw});
    router.add(
        Method::post, "/v1/hooks/alertmanager",
        transport::Access{.site_operator = true, .alertmanager_hook = true},
        [this](const Request& r) { return alertmanager_hook(r); },
        {.body = transport::Body::raw});
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
    auto next_capture = std::chrono::steady_clock::now();
    while (!stop.stop_requested()) {
      workflow::refresh_protection(registry_);
      // Apps running here protected in reverse: this site takes their mirror snapshots, and pairs
      // the disks added to them here.
      if (auto apps = rt_.store->list_apps()) {
        std::erase_if(*apps, [](const state::AppRecord& a) {
          return a.state != state::AppState::protected_reverse;
        });
        if (!apps->empty()) {
          schedule_.run_due(*apps, &state::MirrorPairRecord::target);
          workflow::refresh_reverse_protection(site_);
        }
        const auto every = rt_.config.protection.capture_interval;
        if (every.count() > 0 && std::chrono::steady_clock::now() >= next_capture) {
          for (const auto& app : *apps) check_drift(app.id);
          next_capture = std::chrono::steady_clock::now() + every;
        }
      }
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
    for (auto& image : out["images"]) {
      image["lastSnapshotAt"] =
          service::optional_time(schedule_.last(app_id, image["target"].get<std::string>()));
    }
    out["jobs"] = service::recent_jobs(*rt_.store, app_id);
    out["drill"] = drill_json(app_id);
    return Response::json(200, out);
  }

  // The app's drill in place: its job and its domains here, as libvirt has them; null if none.
  json drill_json(const std::string& app_id) {
    auto in_place = workflow::drill_in_place(*rt_.store, app_id);
    if (!in_place || !*in_place) return nullptr;
    json out{{"job", (*in_place)->id}, {"state", to_string((*in_place)->state)}};
    if (rt_.config.site.drill_switch) out["network"] = rt_.config.site.drill_switch->switch_name;
    auto domains = workflow::drill_domains(*rt_.hypervisor, app_id);
    out["domains"] = domains ? *domains : json(nullptr);
    if (!domains) out["error"] = domains.error().message;
    return out;
  }

  Response operator_failover(const Request& req) {
    auto request = webhook::read_operator_failover(req.json, req.param("app"));
    if (!request) return transport::error_response(request.error());
    auto created = request_failover(*request, "operator " + req.caller.name);
    if (!created) return transport::error_response(created.error());
    return service::job_accepted(*rt_.store, *created);
  }

  // Reprotect, failback, drill and drill cleanup: an optional body {"reason": "..."}; 409 when the
  // app is in no state for it (workflow/failback.hpp and workflow/drill.hpp say what to do
  // instead). A cleanup cancels a drill that still runs.
  Response operator_lifecycle(const Request& req, state::JobType type) {
    const auto& app_id = req.param("app");
    std::string reason;
    if (!req.json.is_null()) {
      model::JsonReader r;
      if (r.object(req.json, "", {"reason"})) {
        reason = r.opt_string(req.json, "", "reason").value_or("");
      }
      if (!r.ok()) return transport::error_response(r.problems);
    }
    auto app = rt_.store->get_app(app_id);
    if (!app) return transport::error_response(app.error());
    const std::string who = "operator " + req.caller.name;
    if (type == state::JobType::drill_cleanup) {
      if (auto s = cancel_drill(app_id, who + "'s drill cleanup", {state::JobType::drill}); !s) {
        return transport::error_response(s.error());
      }
    }
    auto running = unfinished_job(app_id, type);
    if (!running) return transport::error_response(running.error());
    if (*running) return service::job_accepted(*rt_.store, **running);
    if (const auto refused = refusal(*app, type)) return transport::error_response(*refused);
    const json request{{"reason", reason}, {"requestedBy", who}};
    auto created = rt_.store->create_job(app_id, type, std::nullopt, request.dump());
    if (!created) return transport::error_response(created.error());
    rt_.log(std::string(to_string(type)) + " of app " + app_id + " requested by operator " +
            req.caller.name + " (job " + std::to_string(created->job.id) + ")");
    executor_.start(created->job.id);
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
    if (request->force && !hooks.allow_force) {
      return transport::error_response(
          "permission_denied",
          "the signed webhook may not ask for force (overriding the fence): an operator can, or "
          "set webhooks.allowForce in " + rt_.config.site_name() + "'s agent config");
    }
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

  // Why a job of `type` cannot start for `app` now, if it cannot (a store that cannot answer is a
  // reason too).
  std::optional<Error> refusal(const state::AppRecord& app, state::JobType type) {
    switch (type) {
      case state::JobType::reprotect:
        return workflow::reprotect_refusal(app);
      case state::JobType::failback:
        return workflow::failback_refusal(app);
      case state::JobType::drill: {
        if (auto r = workflow::drill_refusal(app, rt_.config.site)) return r;
        auto in_place = workflow::drill_in_place(*rt_.store, app.id);
        if (!in_place) return in_place.error();
        if (!*in_place) return std::nullopt;
        return fail(
            Errc::failed_precondition,
            "app '" + app.id + "' has a drill in place at " + rt_.config.site_name() + " (job " +
                std::to_string((*in_place)->id) +
                "); clean it up first: drpair drill " + app.id + " --cleanup");
      }
      case state::JobType::drill_cleanup: {
        auto jobs = rt_.store->list_jobs(app.id);
        if (!jobs) return jobs.error();
        const bool drilled = std::any_of(jobs->begin(), jobs->end(), [](const auto& j) {
          return j.type == state::JobType::drill;
        });
        if (drilled) return std::nullopt;
        return fail(Errc::failed_precondition,
                    "app '" + app.id + "' has had no drill at " + rt_.config.site_name() +
                        ": nothing to clean up");
      }
      default:
        return fail(Errc::internal,
                    std::string("no operator request starts ") + to_string(type) + " jobs");
    }
  }

  // Cancels the app's unfinished job when it is of one of `types` (a drill or its cleanup, which a
  // failover or a cleanup takes over); its thread ends before the next job of the app runs
  // (run_job waits for it).
  Status cancel_drill(const std::string& app_id, const std::string& by,
                      std::initializer_list<state::JobType> types) {
    auto jobs = rt_.store->list_jobs(app_id);
    if (!jobs) return jobs.error();
    for (const auto& j : *jobs) {
      if (!state::is_unfinished(j.state) ||
          std::find(types.begin(), types.end(), j.type) == types.end()) {
        continue;
      }
      auto s = executor_.cancel(j.id, fail(Errc::aborted, "cancelled by " + by));
      // Ended meanwhile: nothing to cancel.
      if (!s && s.error().code != Errc::failed_precondition) return s;
    }
    return {};
  }

  // The app's unfinished job, when it has one: of `type`, it answers a new request of that type
  // (created false); of another type, the request is refused until it ends.
  Result<std::optional<state::CreatedJob>> unfinished_job(const std::string& app_id,
                                                          state::JobType type) {
    auto jobs = rt_.store->list_jobs(app_id);
    if (!jobs) return jobs.error();
    for (const auto& j : *jobs) {
      if (!state::is_unfinished(j.state)) continue;
      if (j.type == type) return std::optional(state::CreatedJob{j, false});
      return fail(Errc::failed_precondition, "app '" + app_id + "' has job " +
                                                 std::to_string(j.id) + " (" + to_string(j.type) +
                                                 ") running; wait for it");
    }
    return std::optional<state::CreatedJob>();
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
    // A disaster never waits for a drill: the failover cleans it up.
    if (auto s = cancel_drill(r.app, who + "'s failover",
                              {state::JobType::drill, state::JobType::drill_cleanup});
        !s) {
      return s.error();
    }
    auto running = unfinished_job(r.app, type);
    if (!running) return running.error();
    if (*running) return **running;
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

  // ---- peer routes (workflow/registry.hpp) ------------------------------------------------------

  Response peer_inventory() {
    auto inv = workflow::site_inventory(registry_);
    if (!inv) return transport::error_response(inv.error());
    return Response::json(200, model::to_json(*inv));
  }

  Response peer_bootstrap(const Request& req) {
    auto request = api::read_bootstrap_request(req.json);
    if (!request) return transport::error_response(request.error());
    auto peers = workflow::accept_bootstrap(registry_, req.param("pool"), *request);
    if (!peers) return transport::error_response(peers.error());
    return Response::json(200, api::to_json(*peers));
  }

  Response peer_register(const Request& req) {
    const auto& app_id = req.param("app");
    auto registration = api::read_registration(req.json);
    if (!registration) return transport::error_response(registration.error());
    auto registered = workflow::register_app(registry_, app_id, *registration);
    forget_summary(app_id);
    if (!registered) {
      const auto& refusal = registered.error();
      if (refusal.problems.empty()) return transport::error_response(refusal.error);
      return transport::error_response(refusal.problems, refusal.error.message);
    }
    return Response::json(200, api::to_json(*registered));
  }

  Response peer_view(const std::string& app_id) {
    auto view = workflow::dr_view(registry_, app_id);
    if (!view) return transport::error_response(view.error());
    return Response::json(200, api::to_json(*view));
  }

  // Unregister: forget the app. The DR copies go when the production agent disables mirroring
  // of its primaries (rbd-mirror removes the non-primary images).
  Response peer_unregister(const std::string& app_id) {
    if (auto s = workflow::unregister_app(registry_, app_id); !s) {
      return transport::error_response(s.error());
    }
    forget_summary(app_id);
    return Response::no_content();
  }

  // A disk added here to an app protected in reverse is not replicated until a reprotect pairs it:
  // one is started (unless a job of the app runs).
  void check_drift(const std::string& app_id) {
    auto added = workflow::added_disks(site_, app_id);
    if (!added) {
      rt_.log("drift check of app " + app_id + ": " + added.error().message);
      return;
    }
    auto pairs = rt_.store->mirror_pairs(app_id);
    if (!pairs) return;
    std::vector<std::string> unpaired;
    for (const auto& d : *added) {
      const bool known = std::any_of(pairs->begin(), pairs->end(), [&](const auto& p) {
        return workflow::spec(p.target) == d.image;
      });
      if (!known) unpaired.push_back(storage::to_string(d.image) + " (vm " + d.vm + ")");
    }
    if (unpaired.empty()) return;
    auto jobs = rt_.store->list_jobs(app_id);
    if (!jobs) return;
    for (const auto& j : *jobs) {
      if (state::is_unfinished(j.state)) return;
    }
    std::string list;
    for (const auto& u : unpaired) list += (list.empty() ? "" : ", ") + u;
    auto created = rt_.store->create_job(
        app_id, state::JobType::reprotect, std::nullopt,
        json{{"reason", "drift: disks added here: " + list}, {"requestedBy", "drift check"}}.dump());
    if (!created) {
      rt_.log("drift of app " + app_id + ": " + created.error().message);
      return;
    }
    rt_.log("app " + app_id + " drifted at " + rt_.config.site_name() + ": " + list +
            " added; reprotect job " + std::to_string(created->job.id) + " pairs them");
    if (created->created) executor_.start(created->job.id);
  }

  // ---- failover jobs ----------------------------------------------------------------------------

  Status run_job(const state::JobRecord& job, workflow::Steps& steps) {
    // A drill (or its cleanup) this job's request cancelled may still be ending its step.
    if (auto jobs = rt_.store->list_jobs(job.app_id)) {
      for (const auto& j : *jobs) {
        if (j.id < job.id && j.state == state::JobState::cancelled) executor_.wait_ended(j.id);
      }
    }
    if (job.type == state::JobType::drill) return workflow::run_drill(site_, job, steps);
    if (job.type == state::JobType::drill_cleanup) {
      return workflow::run_drill_cleanup(site_, job.app_id, steps);
    }
    if (job.type == state::JobType::reprotect) {
      return workflow::run_reprotect(site_, job.app_id, steps);
    }
    if (job.type == state::JobType::failback) {
      return workflow::run_failback(site_, job.app_id, steps);
    }
    if (job.type != state::JobType::failover_planned &&
        job.type != state::JobType::failover_disaster) {
      return fail(Errc::invalid_argument,
                  std::string("the DR agent does not run ") + to_string(job.type) + " jobs");
    }
    auto request = model::parse_json(job.request_json);
    workflow::FailoverRequest failover;
    failover.planned = job.type == state::JobType::failover_planned;
    failover.force = request && request->is_object() && request->value("force", false) == true;
    return workflow::run_failover(site_, job.app_id, failover, steps);
  }

  struct Summary {
    std::int64_t generation = 0;
    std::string name;
    int vms = 0;
  };

  Runtime& rt_;
  api::HttpProductionPeer peer_;
  api::HttpProductionPeer fence_peer_;
  workflow::FailoverSite site_;
  workflow::SnapshotSchedule schedule_;
  workflow::DrSite registry_;
  jobs::JobExecutor executor_;
  std::mutex summaries_mutex_;
  std::map<std::string, Summary> summaries_;  // by app id
};

}  // namespace

std::unique_ptr<service::Service> make_dr_agent(service::Runtime& runtime) {
  return std::make_unique<DrAgent>(runtime);
}

}  // namespace dr::drsite
