#include "production_agent.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "api/http_peers.hpp"
#include "model/json_io.hpp"
#include "model/json_reader.hpp"
#include "transport/error_mapping.hpp"
#include "workflow/app_records.hpp"
#include "workflow/handover.hpp"
#include "workflow/protect.hpp"
#include "workflow/snapshot_schedule.hpp"

namespace dr::production {
namespace {

using nlohmann::json;
using service::Runtime;
using transport::Method;
using transport::Request;
using transport::Response;
using Clock = std::chrono::steady_clock;

using workflow::image_name;
using workflow::spec;

// The domains of each app found in libvirt (domains whose metadata names an app, readable or not:
// a protect of an app with a broken one then names it).
struct LibvirtApp {
  std::string name;
  std::vector<virt::DomainStatus> domains;
};

Result<std::map<std::string, LibvirtApp>> libvirt_apps(virt::Hypervisor& hv) {
  auto site = hv.list_members();
  if (!site) return site.error();
  std::map<std::string, LibvirtApp> apps;
  for (const auto& [status, membership, broken] : *site) {
    if (broken && broken->app_id) apps[*broken->app_id].domains.push_back(status);
    if (!membership) continue;
    auto& app = apps[membership->app_id];
    if (membership->app_name) app.name = *membership->app_name;
    app.domains.push_back(status);
  }
  return apps;
}

class ProductionAgent final : public service::Service {
 public:
  explicit ProductionAgent(Runtime& rt)
      : rt_(rt),
        peer_(*rt.peer),
        site_{*rt.store,
              *rt.storage,
              *rt.hypervisor,
              &rt.config.site,
              rt.config.site_name(),
              rt.config.peer.site,
              peer_,
              rt.config.mapping_policy,
              std::chrono::duration_cast<std::chrono::milliseconds>(
                  rt.config.protection.replication_timeout),
              std::chrono::milliseconds(2000),
              rt.config.failover.shutdown_timeout,
              rt.config.protection.parallelism,
              rt.log,
              [this](const std::string& app, const std::string& image) {
                schedule_.note(app, image, service::now());
              }},
        schedule_(*rt.store, *rt.storage,
                  std::chrono::duration_cast<std::chrono::seconds>(
                      rt.config.protection.snapshot_interval),
                  rt.config.protection.parallelism, rt.log),
        executor_(
            *rt.store,
            [this](const state::JobRecord& job, workflow::Steps& steps) {
              return run_job(job, steps);
            },
            rt.log) {}

  jobs::JobExecutor& executor() override { return executor_; }

  void add_routes(transport::Router& router) override {
    using transport::kOperatorOnly;
    using transport::kReaders;
    using transport::kPeerOnly;
    router.add(Method::get, "/v1/apps", kReaders, [this](const Request&) { return list(); });
    router.add(Method::get, "/v1/apps/{app}", kReaders,
               [this](const Request& r) { return detail(r.param("app")); });
    router.add(Method::post, "/v1/apps/{app}/protection", kOperatorOnly,
               [this](const Request& r) { return protect(r); });
    router.add(Method::delete_, "/v1/apps/{app}/protection", kOperatorOnly,
               [this](const Request& r) { return unprotect(r.param("app")); });
    router.add(Method::post, "/v1/apps/{app}/snapshots", kOperatorOnly,
               [this](const Request& r) { return snapshot_now(r.param("app")); });
    // The DR agent's calls (api/peer_api.hpp; workflow/handover.hpp answers them).
    router.add(Method::get, "/v1/peer/apps/{app}", kPeerOnly,
               [this](const Request& r) { return answer(answers_.app(r.param("app"))); });
    router.add(Method::post, "/v1/peer/apps/{app}/stop", kPeerOnly,
               [this](const Request& r) { return answer(answers_.stop(r.param("app"))); });
    router.add(Method::post, "/v1/peer/apps/{app}/release", kPeerOnly,
               [this](const Request& r) { return answer(answers_.release(r.param("app"))); });
    const std::string image = "/v1/peer/apps/{app}/images/{pool}/{image}";
    router.add(Method::get, image, kPeerOnly, [this](const Request& r) {
      return answer(answers_.image(r.param("app"), image_of(r)));
    });
    router.add(Method::post, image + "/snapshot", kPeerOnly, [this](const Request& r) {
      return answer(answers_.snapshot(r.param("app"), image_of(r)));
    });
    router.add(Method::post, image + "/demote", kPeerOnly, [this](const Request& r) {
      return answer(answers_.demote(r.param("app"), image_of(r)));
    });
    router.add(Method::post, image + "/promote", kPeerOnly, [this](const Request& r) {
      return answer(answers_.promote(r.param("app"), image_of(r)));
    });
    router.add(Method::post, image + "/resync", kPeerOnly, [this](const Request& r) {
      return answer(answers_.resync(r.param("app"), image_of(r)));
    });
    router.add(Method::post, "/v1/peer/apps/{app}/reverse", kPeerOnly,
               [this](const Request& r) { return answer(answers_.reverse(r.param("app"))); });
    router.add(Method::post, "/v1/peer/apps/{app}/pairs", kPeerOnly, [this](const Request& r) {
      auto request = api::read_pair_images(r.json);
      if (!request) return transport::error_response(request.error());
      return answer(answers_.pair(r.param("app"), *request));
    });
    router.add(Method::post, "/v1/peer/apps/{app}/start", kPeerOnly, [this](const Request& r) {
      auto request = api::read_start_request(r.json);
      if (!request) return transport::error_response(request.error());
      auto started = answers_.start(r.param("app"), *request);
      if (started) {
        // The DR agent hands the app over (its failback): it is this site's to run and protect.
        note_dr_check(r.param("app"), state::AppState::failing_back, "", true);
        // What came home changed the app: its next generation is protected at once, not at the
        // next capture interval (a disaster meanwhile would restore the DR site's older one).
        if (!request->empty()) capture_now_ = true;
      }
      return answer(std::move(started));
    });
  }

  void add_metrics(metrics::Exposition& out) override {
    auto& family = out.family("drpair_image_last_snapshot_timestamp_seconds", metrics::Type::gauge,
                              "When the agent last took a mirror snapshot of the image (Unix s).");
    for (const auto& [key, at] : schedule_.all()) {
      family.add({{"app", key.first}, {"image", key.second}},
                 static_cast<double>(
                     std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch())
                         .count()) /
                     1000.0);
    }
  }

  void run_loops(std::stop_token stop) override {
    auto next_status = Clock::now();
    auto next_capture = Clock::now() + rt_.config.protection.capture_interval;
    while (!stop.stop_requested()) {
      // A capture asked for first: the snapshots due at once (all of an app just handed over)
      // would hold it back by seconds.
      if (capture_now_.exchange(false) ||
          (rt_.config.protection.capture_interval.count() > 0 && Clock::now() >= next_capture)) {
        check_drift();
        next_capture = Clock::now() + rt_.config.protection.capture_interval;
      }
      take_due_snapshots();
      if (Clock::now() >= next_status) {
        refresh_status();
        next_status = Clock::now() + std::chrono::seconds(5);
      }
      for (int i = 0; i < 10 && !stop.stop_requested(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }

 private:
  // ---- operator routes --------------------------------------------------------------------------

  Response list() {
    auto stored = rt_.store->list_apps();
    if (!stored) return transport::error_response(stored.error());
    auto found = libvirt_apps(*rt_.hypervisor);
    if (!found) return transport::error_response(found.error());
    json apps = json::array();
    std::set<std::string> seen;
    for (const auto& a : *stored) {
      seen.insert(a.id);
      const auto it = found->find(a.id);
      json item =
          service::app_json(a, it != found->end() ? it->second.name : a.id,
                            it != found->end() ? static_cast<int>(it->second.domains.size()) : 0);
      apps.push_back(std::move(item));
    }
    for (const auto& [id, app] : *found) {
      if (seen.count(id) != 0) continue;
      apps.push_back({{"id", id},
                      {"name", app.name.empty() ? id : app.name},
                      {"state", "unprotected"},
                      {"generation", 0},
                      {"peerSite", rt_.config.peer.site},
                      {"vms", app.domains.size()}});
    }
    std::sort(apps.begin(), apps.end(),
              [](const json& a, const json& b) { return a["id"] < b["id"]; });
    return Response::json(200, {{"apps", apps}});
  }

  Response detail(const std::string& app_id) {
    auto app = rt_.store->get_app(app_id);
    if (!app) return transport::error_response(app.error());
    auto found = libvirt_apps(*rt_.hypervisor);
    std::string name = app_id;
    int vms = 0;
    if (found) {
      if (auto it = found->find(app_id); it != found->end()) {
        if (!it->second.name.empty()) name = it->second.name;
        vms = static_cast<int>(it->second.domains.size());
      }
    }
    json out = service::app_json(*app, name, vms);
    out["peer"] = rt_.peer_tracker.to_json(rt_.config.peer.site);
    auto pairs = rt_.store->mirror_pairs(app_id);
    out["images"] = pairs ? service::pairs_json(*pairs) : json::array();
    for (auto& image : out["images"]) {
      image["lastSnapshotAt"] =
          service::optional_time(schedule_.last(app_id, image["source"].get<std::string>()));
    }
    out["drCheck"] = dr_check_json(*app);
    out["jobs"] = service::recent_jobs(*rt_.store, app_id);
    return Response::json(200, out);
  }

  // Creates the app record if needed, then the job, and starts it.
  Response start_job(const std::string& app_id, state::JobType type, const json& request) {
    auto created = create_job(app_id, type, request);
    if (!created) return transport::error_response(created.error());
    if (created->created) executor_.start(created->job.id);
    return service::job_accepted(*rt_.store, *created);
  }

  Result<state::CreatedJob> create_job(const std::string& app_id, state::JobType type,
                                       const json& request) {
    auto existing = rt_.store->get_app(app_id);
    if (!existing) {
      if (existing.error().code != Errc::not_found) return existing.error();
      if (type == state::JobType::unprotect) {
        return fail(Errc::not_found, "app '" + app_id + "' is not protected");
      }
      state::AppRecord record;
      record.id = app_id;
      record.role = state::AppRole::protected_source;
      record.state = state::AppState::unprotected;
      record.peer_site = rt_.config.peer.site;
      if (auto r = rt_.store->upsert_app(record); !r && r.error().code != Errc::already_exists) {
        return r.error();
      }
    } else if (type == state::JobType::protect && state::is_away(existing->state)) {
      return fail(Errc::failed_precondition,
                  "app '" + app_id + "' is " + to_string(existing->state) +
                      " (it runs at the DR site); it is protected from here again by a failback "
                      "(drpair reprotect, then drpair failback, at the DR agent)");
    }
    return rt_.store->create_job(app_id, type, std::nullopt, request.dump());
  }

  Response protect(const Request& req) {
    const auto& app_id = req.param("app");
    // The body is optional: {"mode": "first" | "second"}, mode first by default.
    std::string mode = "first";
    if (!req.json.is_null()) {
      model::JsonReader r;
      if (r.object(req.json, "", {"mode"})) {
        mode = r.enumeration<std::string>(req.json, "", "mode",
                                          {{"first", "first"}, {"second", "second"}}, "first");
      }
      if (!r.ok()) return transport::error_response(r.problems);
    }
    auto found = libvirt_apps(*rt_.hypervisor);
    if (!found) return transport::error_response(found.error());
    if (found->count(app_id) == 0) {
      return transport::error_response(
          "not_found", "no libvirt domain at " + rt_.config.site_name() + " belongs to app '" +
                           app_id + "' (drpair:app metadata)");
    }
    return start_job(app_id, state::JobType::protect, {{"mode", mode}});
  }

  Response unprotect(const std::string& app_id) {
    return start_job(app_id, state::JobType::unprotect, json::object());
  }

  Response snapshot_now(const std::string& app_id) {
    auto pairs = rt_.store->mirror_pairs(app_id);
    if (!pairs) return transport::error_response(pairs.error());
    if (pairs->empty()) {
      return transport::error_response(
          "failed_precondition", "app '" + app_id + "' has no mirror pairs: protect it first");
    }
    json out = json::array();
    for (const auto& t : schedule_.take_round(app_id, *pairs, &state::MirrorPairRecord::source)) {
      if (!t.snapshot) {
        return transport::error_response(
            with_context(t.snapshot.error(), "app '" + app_id + "': snapshot " + t.image));
      }
      out.push_back({{"image", t.image},
                     {"snapId", t.snapshot->snap_id},
                     {"takenAt", service::format_time(t.at)}});
    }
    return Response::json(200, {{"snapshots", out}});
  }

  // ---- peer routes ------------------------------------------------------------------------------

  static storage::ImageSpec image_of(const Request& r) {
    return {r.param("pool"), r.param("image")};
  }

  template <class T>
  static Response answer(const Result<T>& r) {
    if (!r) return transport::error_response(r.error());
    return Response::json(200, api::to_json(*r));
  }

  // ---- jobs -------------------------------------------------------------------------------------

  Status run_job(const state::JobRecord& job, workflow::Steps& steps) {
    switch (job.type) {
      case state::JobType::protect:
        return workflow::run_protect(site_, job.app_id, requested_mode(job), steps);
      case state::JobType::unprotect:
        return workflow::run_unprotect(site_, job.app_id, steps);
      case state::JobType::fence:
        return workflow::run_fence(site_, job.app_id, steps);
      default:
        return fail(Errc::invalid_argument, std::string("the production agent does not run ") +
                                                to_string(job.type) + " jobs");
    }
  }

  // The mode a protect job was asked for (stored with it; first when it says nothing).
  static api::RegistrationMode requested_mode(const state::JobRecord& job) {
    auto request = model::parse_json(job.request_json);
    const bool second = request && request->is_object() && request->contains("mode") &&
                        (*request)["mode"] == "second";
    return second ? api::RegistrationMode::second : api::RegistrationMode::first;
  }

  // ---- loops ------------------------------------------------------------------------------------

  std::vector<state::AppRecord> apps_in(std::initializer_list<state::AppState> states) {
    std::vector<state::AppRecord> out;
    auto apps = rt_.store->list_apps();
    if (!apps) return out;
    for (const auto& a : *apps) {
      for (auto s : states) {
        if (a.state == s) out.push_back(a);
      }
    }
    return out;
  }

  // The apps this site protects whose state the DR agent has confirmed since this agent started
  // (a site that returns after a disaster must not act as primary before it knows).
  std::vector<state::AppRecord> confirmed(std::initializer_list<state::AppState> states) {
    auto apps = apps_in(states);
    std::lock_guard lock(check_mutex_);
    std::erase_if(apps, [&](const state::AppRecord& a) {
      const auto it = dr_checks_.find(a.id);
      return it == dr_checks_.end() || !it->second.confirmed;
    });
    return apps;
  }

  void take_due_snapshots() {
    schedule_.run_due(confirmed({state::AppState::protected_, state::AppState::protecting}),
                      &state::MirrorPairRecord::source);
  }

  // Every app this site takes for its own is checked with the DR agent (the fence: the app may
  // have failed over while this site was away); the pair status of those protected is recorded.
  void refresh_status() {
    const auto apps = apps_in(
        {state::AppState::protected_, state::AppState::protecting, state::AppState::failed});
    if (apps.empty()) {
      (void)rt_.peer->get("/healthz");  // keeps peer reachability current
      return;
    }
    for (const auto& app : apps) {
      auto view = peer_.app(app.id);
      if (!view) {
        // Not known there counts as an answer: the DR site cannot run what it does not know.
        note_dr_check(app.id, std::nullopt, view.error().message,
                      view.error().code == Errc::not_found);
        continue;
      }
      if (auto reason = workflow::fence_reason(*view, app.state, rt_.config.peer.site)) {
        note_dr_check(app.id, view->state, *reason, false);
        start_fence(app.id, *reason);
        continue;
      }
      note_dr_check(app.id, view->state, "", true);
      auto pairs = rt_.store->mirror_pairs(app.id);
      if (!pairs) continue;
      for (const auto& image : view->images) {
        for (const auto& p : *pairs) {
          if (spec(p.target) != image.target) continue;
          state::MirrorStatus status;
          status.text = std::string(image.role ? storage::to_string(*image.role) : "absent") +
                        (image.synced ? ", synced" : ", not synced yet");
          if (image.lag_seconds) {
            status.lag_seconds = *image.lag_seconds;
            status.last_sync_at = service::now() - std::chrono::seconds(*image.lag_seconds);
          }
          status.checked_at = service::now();
          (void)rt_.store->update_mirror_status(app.id, p.source, status);
        }
      }
    }
  }

  // What the DR agent last said of the app; `confirmed`: this site may act as its primary. Once
  // confirmed, an app stays so while the DR agent is unreachable (a partition is not a disaster:
  // the DR agent's own fence refuses a failover while this site answers).
  void note_dr_check(const std::string& app_id, std::optional<state::AppState> dr_state,
                     const std::string& detail, bool confirmed) {
    std::lock_guard lock(check_mutex_);
    auto& check = dr_checks_[app_id];
    check.at = service::now();
    check.dr_state = dr_state;
    check.problem = detail;
    check.confirmed = check.confirmed || confirmed;
  }

  json dr_check_json(const state::AppRecord& app) {
    std::lock_guard lock(check_mutex_);
    const auto it = dr_checks_.find(app.id);
    if (it == dr_checks_.end()) {
      const bool asked = app.state == state::AppState::protected_ ||
                         app.state == state::AppState::protecting ||
                         app.state == state::AppState::failed;
      return {{"confirmed", false},
              {"checkedAt", nullptr},
              {"drState", nullptr},
              {"detail", asked ? "not asked yet: no mirror snapshot or capture until " +
                                     rt_.config.peer.site + " has answered"
                               : "not asked: the app is " + std::string(to_string(app.state)) +
                                     " here"}};
    }
    const auto& c = it->second;
    return {{"confirmed", c.confirmed},
            {"checkedAt", service::format_time(c.at)},
            {"drState", c.dr_state ? json(to_string(*c.dr_state)) : json(nullptr)},
            {"detail", c.problem}};
  }

  void start_fence(const std::string& app_id, const std::string& reason) {
    auto jobs = rt_.store->list_jobs(app_id);
    if (!jobs) return;
    for (const auto& j : *jobs) {
      if (j.type == state::JobType::fence && state::is_unfinished(j.state)) {
        return;  // one fence at a time
      }
    }
    auto created = rt_.store->create_job(app_id, state::JobType::fence, std::nullopt,
                                         json{{"reason", reason}}.dump());
    if (!created) {
      rt_.log("fence of app " + app_id + ": " + created.error().message);
      return;
    }
    rt_.log("fence of app " + app_id + " (job " + std::to_string(created->job.id) + "): " + reason);
    if (created->created) executor_.start(created->job.id);
  }

  void check_drift() {
    for (const auto& app : confirmed({state::AppState::protected_})) {
      auto captured = workflow::capture_next(site_, app.id);
      if (!captured) {
        rt_.log("drift check of app " + app.id + ": " + captured.error().message);
        continue;
      }
      if (captured->app.generation == app.generation) continue;
      // The mode of the app's last protect job carries over.
      api::RegistrationMode mode = api::RegistrationMode::first;
      if (auto list = rt_.store->list_jobs(app.id)) {
        for (const auto& j : *list) {
          if (j.type == state::JobType::protect) mode = requested_mode(j);
        }
      }
      rt_.log("app " + app.id + " drifted: protecting generation " +
              std::to_string(captured->app.generation) + " (mode " + api::to_string(mode) + ")");
      auto created = create_job(app.id, state::JobType::protect,
                                {{"mode", api::to_string(mode)}, {"reason", "drift"}});
      if (created && created->created) executor_.start(created->job.id);
    }
  }

  Runtime& rt_;
  api::HttpDrPeer peer_;
  workflow::ProductionSite site_;
  workflow::SnapshotSchedule schedule_;
  workflow::LocalProductionPeer answers_{site_};  // the peer routes' answers
  jobs::JobExecutor executor_;
  struct DrCheck {
    bool confirmed = false;  // the DR agent answered since this agent started
    state::Timestamp at{};
    std::optional<state::AppState> dr_state;
    std::string problem;  // why not confirmed, or why fenced
  };
  std::mutex check_mutex_;
  std::map<std::string, DrCheck> dr_checks_;  // by app id
  std::atomic<bool> capture_now_{false};      // a drift check at the loop's next turn
};

}  // namespace

std::unique_ptr<service::Service> make_production_agent(service::Runtime& runtime) {
  return std::make_unique<ProductionAgent>(runtime);
}

}  // namespace dr::production
