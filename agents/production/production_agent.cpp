#include "production_agent.hpp"

#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "mapping/mapping.hpp"
#include "model/json_io.hpp"
#include "transport/error_mapping.hpp"
#include "virt/capture.hpp"

namespace dr::production {
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

// The domains of each app found in libvirt (domains whose metadata names an app).
struct LibvirtApp {
  std::string name;
  std::vector<virt::DomainStatus> domains;
};

Result<std::map<std::string, LibvirtApp>> libvirt_apps(virt::Hypervisor& hv) {
  auto site = hv.list_members();
  if (!site) return site.error();
  std::map<std::string, LibvirtApp> apps;
  for (const auto& [status, membership] : *site) {
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
        executor_(
            *rt.store,
            [this](const state::JobRecord& job, jobs::StepRunner& steps) {
              return run_job(job, steps);
            },
            rt.log) {}

  jobs::JobExecutor& executor() override { return executor_; }

  void add_routes(transport::Router& router) override {
    using transport::kOperatorOnly;
    using transport::kPeerOnly;
    router.add(Method::get, "/v1/apps", kOperatorOnly, [this](const Request&) { return list(); });
    router.add(Method::get, "/v1/apps/{app}", kOperatorOnly,
               [this](const Request& r) { return detail(r.param("app")); });
    router.add(Method::post, "/v1/apps/{app}/protection", kOperatorOnly,
               [this](const Request& r) { return protect(r); });
    router.add(Method::delete_, "/v1/apps/{app}/protection", kOperatorOnly,
               [this](const Request& r) { return unprotect(r.param("app")); });
    router.add(Method::post, "/v1/apps/{app}/snapshots", kOperatorOnly,
               [this](const Request& r) { return snapshot_now(r.param("app")); });
    router.add(Method::get, "/v1/peer/apps/{app}", kPeerOnly,
               [this](const Request& r) { return peer_view(r.param("app")); });
    router.add(Method::post, "/v1/peer/apps/{app}/demote", kPeerOnly,
               [this](const Request& r) { return demote(r.param("app")); });
  }

  void add_metrics(metrics::Exposition& out) override {
    auto& family = out.family("drpair_image_last_snapshot_timestamp_seconds", metrics::Type::gauge,
                              "When the agent last took a mirror snapshot of the image (Unix s).");
    std::lock_guard lock(mutex_);
    for (const auto& [key, at] : last_snapshot_) {
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
      take_due_snapshots();
      if (Clock::now() >= next_status) {
        refresh_status();
        next_status = Clock::now() + std::chrono::seconds(5);
      }
      if (rt_.config.protection.capture_interval.count() > 0 && Clock::now() >= next_capture) {
        check_drift();
        next_capture = Clock::now() + rt_.config.protection.capture_interval;
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
    {
      std::lock_guard lock(mutex_);
      for (auto& image : out["images"]) {
        const auto it = last_snapshot_.find({app_id, image["source"].get<std::string>()});
        image["lastSnapshotAt"] =
            it != last_snapshot_.end() ? json(service::format_time(it->second)) : json(nullptr);
      }
    }
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
    } else if (type == state::JobType::protect &&
               (existing->state == state::AppState::failed_over ||
                existing->state == state::AppState::failing_over)) {
      return fail(Errc::failed_precondition,
                  "app '" + app_id + "' is " + to_string(existing->state) +
                      " (running at the DR site); protect it again after failing back");
    }
    return rt_.store->create_job(app_id, type, std::nullopt, request.dump());
  }

  Response protect(const Request& req) {
    const auto& app_id = req.param("app");
    std::string mode = "first";
    if (req.json.is_object() && req.json.contains("mode")) {
      if (!req.json["mode"].is_string()) {
        return transport::error_response(
            model::Problems{{"/mode", "expected \"first\" or \"second\""}});
      }
      mode = req.json["mode"].get<std::string>();
    } else if (!req.json.is_null() && !req.json.is_object()) {
      return transport::error_response(model::Problems{{"", "expected an object"}});
    }
    if (mode != "first" && mode != "second") {
      return transport::error_response(
          model::Problems{{"/mode", "expected \"first\" or \"second\", not \"" + mode + "\""}});
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
    for (const auto& p : *pairs) {
      auto ref = rt_.storage->create_mirror_snapshot(spec(p.source));
      if (!ref) return transport::error_response(with_context(ref.error(), "app '" + app_id + "'"));
      const auto at = service::now();
      note_snapshot(app_id, image_name(p.source), at);
      out.push_back({{"image", image_name(p.source)},
                     {"snapId", ref->snap_id},
                     {"takenAt", service::format_time(at)}});
    }
    return Response::json(200, {{"snapshots", out}});
  }

  // ---- peer routes ------------------------------------------------------------------------------

  Response peer_view(const std::string& app_id) {
    auto app = rt_.store->get_app(app_id);
    if (!app) return transport::error_response(app.error());
    auto pairs = rt_.store->mirror_pairs(app_id);
    if (!pairs) return transport::error_response(pairs.error());
    json images = json::array();
    for (const auto& p : *pairs) {
      auto info = rt_.storage->mirror_info(spec(p.source));
      if (!info) return transport::error_response(info.error());
      images.push_back({{"image", image_name(p.source)}, {"role", to_string(info->role)}});
    }
    int running = 0;
    auto found = libvirt_apps(*rt_.hypervisor);
    if (!found) return transport::error_response(found.error());
    if (auto it = found->find(app_id); it != found->end()) {
      for (const auto& d : it->second.domains) running += d.state == virt::DomainState::running;
    }
    return Response::json(200, {{"app", app_id},
                                {"state", to_string(app->state)},
                                {"generation", app->generation},
                                {"images", images},
                                {"vmsRunning", running}});
  }

  // Planned failover, production side: stop the VMs, demote every image. Idempotent: an image
  // already demoted answers with its demotion snapshot.
  Response demote(const std::string& app_id) {
    auto app = rt_.store->get_app(app_id);
    if (!app) return transport::error_response(app.error());
    if (auto s = stop_vms(app_id); !s) return transport::error_response(s.error());
    auto pairs = rt_.store->mirror_pairs(app_id);
    if (!pairs) return transport::error_response(pairs.error());
    // Every image at once: a demotion takes a second or two per image.
    std::vector<std::future<Result<storage::MirrorSnapshotRef>>> demotions;
    for (const auto& p : *pairs) {
      demotions.push_back(std::async(std::launch::async,
                                     [this, image = spec(p.source)] { return demote_image(image); }));
    }
    json images = json::array();
    for (std::size_t i = 0; i < pairs->size(); ++i) {
      const auto& p = (*pairs)[i];
      auto ref = demotions[i].get();
      if (!ref) return transport::error_response(ref.error());
      images.push_back(
          {{"image", image_name(p.source)},
           {"demotion", {{"mirrorUuid", ref->source_mirror_uuid}, {"snapId", ref->snap_id}}}});
    }
    for (auto to : {state::AppState::failing_over, state::AppState::failed_over}) {
      auto current = rt_.store->get_app(app_id);
      if (!current || current->state == state::AppState::failed_over) break;
      current->state = to;
      if (auto r = rt_.store->upsert_app(*current); !r) {
        rt_.log("demote " + app_id + ": cannot record state: " + r.error().message);
        break;
      }
    }
    return Response::json(200, {{"app", app_id}, {"images", images}});
  }

  // Shuts the app's running VMs down: all are asked at once (ACPI), those still running after
  // failover.shutdownTimeoutSeconds are powered off. A VM that stops on its own meanwhile is fine.
  Status stop_vms(const std::string& app_id) {
    auto found = libvirt_apps(*rt_.hypervisor);
    if (!found) return found.error();
    std::vector<std::string> vms;
    if (auto it = found->find(app_id); it != found->end()) {
      for (const auto& d : it->second.domains) {
        if (d.state == virt::DomainState::running) vms.push_back(d.name);
      }
    }
    if (vms.empty()) return {};
    const auto timeout = rt_.config.failover.shutdown_timeout;
    if (timeout.count() > 0) {
      for (const auto& name : vms) {
        if (auto s = rt_.hypervisor->shutdown_domain(name);
            !s && s.error().code != Errc::failed_precondition) {
          return with_context(s.error(), "shut down vm '" + name + "'");
        }
      }
      rt_.log("demote " + app_id + ": asked " + std::to_string(vms.size()) +
              " vm(s) to shut down (up to " + std::to_string(timeout.count()) + " s)");
      const auto deadline = Clock::now() + timeout;
      while (!vms.empty() && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        std::erase_if(vms, [&](const std::string& name) {  // keep those still running
          auto status = rt_.hypervisor->domain_status(name);
          return status ? status->state != virt::DomainState::running
                        : status.error().code == Errc::not_found;
        });
      }
    }
    for (const auto& name : vms) {
      if (auto s = rt_.hypervisor->destroy_domain(name);
          !s && s.error().code != Errc::failed_precondition) {
        return with_context(s.error(), "power off vm '" + name + "'");
      }
      rt_.log("demote " + app_id + ": vm " + name +
              (timeout.count() > 0 ? " did not shut down in time: powered off" : ": powered off"));
    }
    return {};
  }

  Result<storage::MirrorSnapshotRef> demote_image(const storage::ImageSpec& image) {
    auto info = rt_.storage->mirror_info(image);
    if (!info) return info.error();
    if (info->role == storage::ImageRole::primary) return rt_.storage->demote(image);
    auto snaps = rt_.storage->mirror_snapshots(image);
    if (!snaps) return snaps.error();
    auto uuid = rt_.storage->mirror_uuid(image.pool);
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

  // ---- jobs -------------------------------------------------------------------------------------

  Status run_job(const state::JobRecord& job, jobs::StepRunner& steps) {
    switch (job.type) {
      case state::JobType::protect: {
        auto request = json::parse(job.request_json, nullptr, false);
        const std::string mode =
            request.is_object() ? request.value("mode", std::string("first")) : "first";
        return finish(job.app_id, run_protect(job.app_id, mode, steps),
                      state::AppState::protected_);
      }
      case state::JobType::unprotect:
        return finish(job.app_id, run_unprotect(job.app_id, steps), state::AppState::unprotected);
      default:
        return fail(Errc::invalid_argument, std::string("the production agent does not run ") +
                                                to_string(job.type) + " jobs");
    }
  }

  // Moves the app to `to` (through protecting when needed); on failure records the error.
  Status finish(const std::string& app_id, Result<std::int64_t> outcome, state::AppState to) {
    if (!outcome && outcome.error().code == Errc::aborted) return outcome.error();  // stopped
    auto stored = service::update_app(*rt_.store, app_id, [&](state::AppRecord& app) {
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

  Status set_state(const std::string& app_id, state::AppState to) {
    return service::update_app(*rt_.store, app_id, [to](state::AppRecord& app) { app.state = to; });
  }

  // Captures the app; the generation is the stored one when nothing changed, the next otherwise.
  Result<model::FirstDescription> capture_next(const std::string& app_id) {
    virt::CaptureOptions options;
    options.site = rt_.config.site_name();
    options.config = &rt_.config.site;
    auto first = virt::capture(*rt_.hypervisor, app_id, options);
    if (!first) return first.error();
    auto latest = rt_.store->latest_description(app_id, state::DescriptionKind::first);
    if (!latest) {
      if (latest.error().code != Errc::not_found) return latest.error();
      first->app.generation = std::max<std::int64_t>(first->app.generation, 1);
      return first;
    }
    auto previous = model::parse_first_description(latest->json);
    if (!previous)
      return fail(Errc::internal, "stored first description of '" + app_id + "' is unreadable");
    if (mapping::diff(*previous, *first).empty()) return *previous;
    first->app.generation = previous->app.generation + 1;
    return first;
  }

  Result<json> call_peer(Method method, const std::string& target, const json* body) {
    transport::ClientRequest request;
    request.method = method;
    request.target = target;
    if (body != nullptr) request.body = body->dump();
    auto r = rt_.peer->call(request);
    if (!r) {
      return with_context(r.error(), std::string(transport::to_string(method)) + " " +
                                         rt_.config.peer.url + target);
    }
    if (r->body.empty()) return jobs::ok(json::object());
    return service::body_json(*r, target);
  }

  Result<std::int64_t> run_protect(const std::string& app_id, const std::string& mode,
                                   jobs::StepRunner& steps) {
    if (auto s = set_state(app_id, state::AppState::protecting); !s) return s.error();
    const auto app_path = "/v1/peer/apps/" + service::path_segment(app_id);

    auto captured = steps.run("capture", [&]() -> Result<json> {
      auto first = capture_next(app_id);
      if (!first) return first.error();
      auto stored =
          rt_.store->put_description(app_id, state::DescriptionKind::first, first->app.generation,
                                     model::to_text(model::to_json(*first)));
      if (!stored) return stored.error();
      return jobs::ok(json{{"generation", first->app.generation}, {"vms", first->vms.size()}});
    });
    if (!captured) return captured.error();
    const std::int64_t generation = (*captured)["generation"].get<std::int64_t>();
    auto first_text = rt_.store->get_description(app_id, state::DescriptionKind::first, generation);
    if (!first_text) return first_text.error();
    auto first = model::parse_first_description(first_text->json);
    if (!first) return fail(Errc::internal, "stored first description is unreadable");

    json shipped{{"mode", mode}};
    if (mode == "second") {
      auto mapped = steps.run("map", [&]() -> Result<json> {
        auto inv_doc = call_peer(Method::get, "/v1/peer/inventory", nullptr);
        if (!inv_doc) return inv_doc.error();
        auto inventory = model::read_inventory(*inv_doc);
        if (!inventory) {
          return fail(Errc::invalid_argument, "the DR site's inventory is not valid: " +
                                                  model::format(inventory.error().front()));
        }
        const model::MappingPolicy policy =
            rt_.config.mapping_policy ? *rt_.config.mapping_policy : model::MappingPolicy{};
        auto second = mapping::generate(*first, policy, &*inventory);
        if (!second) {
          std::string text;
          for (const auto& p : second.error())
            text += (text.empty() ? "" : "; ") + model::format(p);
          return fail(Errc::failed_precondition, "app '" + app_id + "' cannot be mapped onto " +
                                                     rt_.config.peer.site + ": " + text);
        }
        return jobs::ok(json{{"second", model::to_json(*second)}});
      });
      if (!mapped) return mapped.error();
      shipped["description"] = (*mapped)["second"];
      shipped["first"] = model::to_json(*first);
    } else {
      shipped["description"] = model::to_json(*first);
    }

    std::set<std::string> pools;
    std::vector<state::ImageRef> images;
    for (const auto& vm : first->vms) {
      for (const auto& d : vm.disks) {
        pools.insert(d.pool);
        images.push_back({d.pool, d.image});
      }
    }
    for (const auto& pool : pools) {
      auto peered = steps.run("peer-pool:" + pool, [&]() -> Result<json> {
        if (auto s = rt_.storage->set_site_name(rt_.config.site_name()); !s) return s.error();
        if (auto s = rt_.storage->enable_pool_mirroring(pool); !s) return s.error();
        auto token = rt_.storage->create_bootstrap_token(pool);
        if (!token) return token.error();
        const json body{{"site", rt_.config.site_name()}, {"token", token->secret}};
        auto answer = call_peer(
            Method::post, "/v1/peer/pools/" + service::path_segment(pool) + "/bootstrap", &body);
        if (!answer) return answer.error();
        return jobs::ok(*answer);
      });
      if (!peered) return peered.error();
    }
    const auto mirror_mode =
        mode == "second" && shipped["description"].contains("replication") &&
                !shipped["description"]["replication"].empty() &&
                shipped["description"]["replication"][0].value("mode", "") == "journal"
            ? storage::MirrorMode::journal
            : storage::MirrorMode::snapshot;
    for (const auto& image : images) {
      auto mirrored = steps.run("mirror:" + image_name(image), [&]() -> Result<json> {
        if (auto s = rt_.storage->enable_mirroring(spec(image), mirror_mode); !s) return s.error();
        if (mirror_mode == storage::MirrorMode::journal) return jobs::ok(json::object());
        auto ref = rt_.storage->create_mirror_snapshot(spec(image));
        if (!ref) return ref.error();
        note_snapshot(app_id, image_name(image), service::now());
        return jobs::ok(json{{"snapId", ref->snap_id}});
      });
      if (!mirrored) return mirrored.error();
    }

    auto registered = steps.run("ship", [&]() -> Result<json> {
      auto answer = call_peer(Method::put, app_path, &shipped);
      if (!answer) return answer.error();
      auto second = model::read_second_description((*answer)["second"]);
      if (!second)
        return fail(Errc::internal, "the DR agent answered an invalid second description");
      if (auto s = rt_.store->put_description(app_id, state::DescriptionKind::second, generation,
                                              model::to_text(model::to_json(*second)));
          !s) {
        return s.error();
      }
      const auto pairs = service::mirror_pairs_of(*second);
      if (auto s = rt_.store->replace_mirror_pairs(app_id, pairs); !s) return s.error();
      return jobs::ok(json{{"state", (*answer)["state"]}, {"pairs", pairs.size()}});
    });
    if (!registered) return registered.error();

    auto replicated = steps.run("await-replication", [&]() -> Result<json> {
      return jobs::poll_until(
          [&]() -> Result<std::optional<json>> {
            auto view = call_peer(Method::get, app_path, nullptr);
            if (!view) {
              if (view.error().code == Errc::unavailable ||
                  view.error().code == Errc::deadline_exceeded) {
                return std::optional<json>();  // the peer may be restarting: keep waiting
              }
              return view.error();
            }
            if ((*view)["state"] == "protected" && (*view)["generation"] == generation) {
              return std::optional<json>(json{{"images", (*view)["images"]}});
            }
            return std::optional<json>();
          },
          rt_.config.protection.replication_timeout, std::chrono::milliseconds(2000),
          steps.stop_token(),
          "app '" + app_id + "': every mirror pair synced at " + rt_.config.peer.site);
    });
    if (!replicated) return replicated.error();
    return generation;
  }

  Result<std::int64_t> run_unprotect(const std::string& app_id, jobs::StepRunner& steps) {
    auto unregistered = steps.run("unregister", [&]() -> Result<json> {
      auto r =
          call_peer(Method::delete_, "/v1/peer/apps/" + service::path_segment(app_id), nullptr);
      if (!r && r.error().code != Errc::not_found) return r.error();
      return jobs::ok(json::object());
    });
    if (!unregistered) return unregistered.error();
    auto pairs = rt_.store->mirror_pairs(app_id);
    if (!pairs) return pairs.error();
    for (const auto& p : *pairs) {
      auto done = steps.run("unmirror:" + image_name(p.source), [&]() -> Result<json> {
        if (auto s = rt_.storage->disable_mirroring(spec(p.source), false); !s) return s.error();
        return jobs::ok(json::object());
      });
      if (!done) return done.error();
    }
    if (auto s = rt_.store->replace_mirror_pairs(app_id, {}); !s) return s.error();
    auto app = rt_.store->get_app(app_id);
    if (!app) return app.error();
    return app->generation;
  }

  // ---- loops ------------------------------------------------------------------------------------

  void note_snapshot(const std::string& app_id, const std::string& image, state::Timestamp at) {
    std::lock_guard lock(mutex_);
    last_snapshot_[{app_id, image}] = at;
  }

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

  void take_due_snapshots() {
    for (const auto& app : apps_in({state::AppState::protected_, state::AppState::protecting})) {
      auto pairs = rt_.store->mirror_pairs(app.id);
      if (!pairs) continue;
      for (const auto& p : *pairs) {
        if (p.mode != state::MirrorMode::snapshot) continue;
        const auto interval = rt_.config.protection.snapshot_interval.count() > 0
                                  ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                        rt_.config.protection.snapshot_interval)
                                  : std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::minutes(p.interval_minutes));
        const auto key = std::make_pair(app.id, image_name(p.source));
        {
          std::lock_guard lock(mutex_);
          const auto it = last_snapshot_.find(key);
          if (it != last_snapshot_.end() && service::now() - it->second < interval) continue;
        }
        auto ref = rt_.storage->create_mirror_snapshot(spec(p.source));
        if (!ref) {
          rt_.log("snapshot " + key.second + " of app " + app.id + ": " + ref.error().message);
          // Try again at the next interval, not every tick.
        }
        note_snapshot(app.id, key.second, service::now());
      }
    }
  }

  void refresh_status() {
    const auto apps = apps_in({state::AppState::protected_, state::AppState::protecting});
    if (apps.empty()) {
      (void)rt_.peer->get("/healthz");  // keeps peer reachability current
      return;
    }
    for (const auto& app : apps) {
      auto view = call_peer(Method::get, "/v1/peer/apps/" + service::path_segment(app.id), nullptr);
      if (!view || !(*view)["images"].is_array()) continue;
      auto pairs = rt_.store->mirror_pairs(app.id);
      if (!pairs) continue;
      for (const auto& image : (*view)["images"]) {
        const auto target = image.value("target", std::string());
        for (const auto& p : *pairs) {
          if (image_name(p.target) != target) continue;
          state::MirrorStatus status;
          status.text = image.value("role", std::string()) +
                        (image.value("synced", false) ? ", synced" : ", not synced yet");
          if (image.contains("lagSeconds") && image["lagSeconds"].is_number_integer()) {
            status.lag_seconds = image["lagSeconds"].get<std::int64_t>();
            status.last_sync_at = service::now() - std::chrono::seconds(*status.lag_seconds);
          }
          status.checked_at = service::now();
          (void)rt_.store->update_mirror_status(app.id, p.source, status);
        }
      }
    }
  }

  void check_drift() {
    for (const auto& app : apps_in({state::AppState::protected_})) {
      auto captured = capture_next(app.id);
      if (!captured) {
        rt_.log("drift check of app " + app.id + ": " + captured.error().message);
        continue;
      }
      if (captured->app.generation == app.generation) continue;
      std::string mode = "first";
      if (auto list = rt_.store->list_jobs(app.id)) {
        for (const auto& j : *list) {
          if (j.type != state::JobType::protect) continue;
          auto request = json::parse(j.request_json, nullptr, false);
          if (request.is_object()) mode = request.value("mode", mode);
        }
      }
      rt_.log("app " + app.id + " drifted: protecting generation " +
              std::to_string(captured->app.generation) + " (mode " + mode + ")");
      auto created =
          create_job(app.id, state::JobType::protect, {{"mode", mode}, {"reason", "drift"}});
      if (created && created->created) executor_.start(created->job.id);
    }
  }

  Runtime& rt_;
  jobs::JobExecutor executor_;
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, state::Timestamp> last_snapshot_;
};

}  // namespace

std::unique_ptr<service::Service> make_production_agent(service::Runtime& runtime) {
  return std::make_unique<ProductionAgent>(runtime);
}

}  // namespace dr::production
