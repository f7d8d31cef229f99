#include "service/service.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "model/json_io.hpp"
#include "state/sqlite_state_store.hpp"
#include "storage/rbd_mirror_storage.hpp"
#include "transport/beast_peer_client.hpp"
#include "transport/error_mapping.hpp"
#include "transport/http_server.hpp"
#include "virt/libvirt_hypervisor.hpp"

namespace dr::service {

using nlohmann::json;
using transport::Method;
using transport::Request;
using transport::Response;

state::Timestamp now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::string format_time(state::Timestamp t) {
  const auto ms = t.time_since_epoch().count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000 - (ms % 1000 < 0 ? 1 : 0));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(((ms % 1000) + 1000) % 1000));
  return buf;
}

std::string format_time(std::chrono::system_clock::time_point t) {
  return format_time(std::chrono::time_point_cast<std::chrono::milliseconds>(t));
}

namespace {
json optional_time(const std::optional<state::Timestamp>& t) {
  return t ? json(format_time(*t)) : json(nullptr);
}
}  // namespace

void PeerTracker::record(bool reached) {
  reachable_.store(reached);
  if (reached) last_contact_ms_.store(now().time_since_epoch().count());
}

std::optional<state::Timestamp> PeerTracker::last_contact() const noexcept {
  const auto ms = last_contact_ms_.load();
  if (ms == 0) return std::nullopt;
  return state::Timestamp{std::chrono::milliseconds{ms}};
}

json PeerTracker::to_json(const std::string& site) const {
  return {
      {"site", site}, {"reachable", reachable()}, {"lastContactAt", optional_time(last_contact())}};
}

Result<Response> TrackedPeerClient::call(const transport::ClientRequest& request) {
  auto r = inner_->call(request);
  // An error answer is contact too; only a transport failure is not.
  const bool reached =
      r || (r.error().code != Errc::unavailable && r.error().code != Errc::deadline_exceeded &&
            r.error().code != Errc::permission_denied);
  tracker_.record(reached);
  return r;
}

json recent_jobs(state::StateStore& store, const std::string& app_id, std::size_t limit) {
  json out = json::array();
  auto list = store.list_jobs(app_id);
  if (!list) return out;
  for (auto it = list->rbegin(); it != list->rend() && out.size() < limit; ++it) {
    out.push_back(job_json(*it));
  }
  return out;
}

json error_json(const Error& e) { return {{"code", to_string(e.code)}, {"message", e.message}}; }

json job_json(const state::JobRecord& job) {
  json out{{"id", job.id},
           {"app", job.app_id},
           {"type", to_string(job.type)},
           {"state", to_string(job.state)},
           {"currentStep", job.current_step},
           {"createdAt", format_time(job.created_at)},
           {"updatedAt", format_time(job.updated_at)}};
  auto request = json::parse(job.request_json, nullptr, false);
  out["request"] = request.is_discarded() ? json::object() : request;
  if (job.idempotency_key) out["idempotencyKey"] = *job.idempotency_key;
  if (job.error) out["error"] = error_json(*job.error);
  return out;
}

json job_json(const state::JobRecord& job, const std::vector<state::JobStep>& steps) {
  json out = job_json(job);
  json list = json::array();
  for (const auto& s : steps) {
    json step{{"seq", s.seq},
              {"name", s.name},
              {"state", to_string(s.state)},
              {"attempts", s.attempts},
              {"startedAt", format_time(s.started_at)},
              {"finishedAt", optional_time(s.finished_at)},
              {"durationMs", s.duration_ms ? json(*s.duration_ms) : json(nullptr)}};
    auto detail = json::parse(s.detail_json, nullptr, false);
    step["detail"] = detail.is_discarded() ? json::object() : detail;
    if (s.error) step["error"] = error_json(*s.error);
    list.push_back(std::move(step));
  }
  out["steps"] = std::move(list);
  return out;
}

json pairs_json(const std::vector<state::MirrorPairRecord>& pairs) {
  json out = json::array();
  for (const auto& p : pairs) {
    out.push_back(
        {{"source", p.source.pool + "/" + p.source.image},
         {"target", p.target.pool + "/" + p.target.image},
         {"mode", to_string(p.mode)},
         {"intervalMinutes", p.interval_minutes},
         {"status", p.status.text},
         {"lastSyncAt", optional_time(p.status.last_sync_at)},
         {"lagSeconds", p.status.lag_seconds ? json(*p.status.lag_seconds) : json(nullptr)},
         {"checkedAt", optional_time(p.status.checked_at)}});
  }
  return out;
}

json app_json(const state::AppRecord& app, const std::string& name, int vms) {
  json out{{"id", app.id},
           {"name", name},
           {"role", to_string(app.role)},
           {"state", to_string(app.state)},
           {"generation", app.generation},
           {"peerSite", app.peer_site},
           {"vms", vms},
           {"version", app.version},
           {"createdAt", format_time(app.created_at)},
           {"updatedAt", format_time(app.updated_at)}};
  if (app.last_error) out["lastError"] = error_json(*app.last_error);
  return out;
}

Response job_accepted(state::StateStore& store, const state::CreatedJob& created) {
  auto steps = store.steps(created.job.id);
  auto response = Response::json(
      202, {{"job", job_json(created.job, steps ? *steps : std::vector<state::JobStep>{})},
            {"created", created.created}});
  response.headers.set("Location", "/v1/jobs/" + std::to_string(created.job.id));
  return response;
}

namespace {

Response error_or(const Error& e) { return transport::error_response(e); }

Response get_descriptions(Runtime& rt, const Request& req) {
  const auto& app = req.param("app");
  if (auto a = rt.store->get_app(app); !a) return error_or(a.error());
  json out = json::object();
  for (auto kind : {state::DescriptionKind::first, state::DescriptionKind::second}) {
    auto list = rt.store->list_descriptions(app, kind);
    if (!list) return error_or(list.error());
    json versions = json::array();
    for (const auto& d : *list) {
      versions.push_back({{"generation", d.generation}, {"storedAt", format_time(d.stored_at)}});
    }
    out[to_string(kind)] = std::move(versions);
  }
  return Response::json(200, out);
}

Response get_description(Runtime& rt, const Request& req) {
  const auto& app = req.param("app");
  auto kind = state::parse_description_kind(req.param("kind"));
  if (!kind) {
    return transport::error_response(
        "invalid_argument",
        "description kind must be 'first' or 'second', not '" + req.param("kind") + "'");
  }
  const auto& gen = req.param("generation");
  Result<state::DescriptionVersion> d = fail(Errc::internal, "unset");
  if (gen == "latest") {
    d = rt.store->latest_description(app, *kind);
  } else {
    std::int64_t n = 0;
    try {
      std::size_t used = 0;
      n = std::stoll(gen, &used);
      if (used != gen.size() || n < 0) throw std::invalid_argument(gen);
    } catch (const std::exception&) {
      return transport::error_response(
          "invalid_argument",
          "generation must be a non-negative integer or 'latest', not '" + gen + "'");
    }
    d = rt.store->get_description(app, *kind, n);
  }
  if (!d) return error_or(d.error());
  Response r;
  r.body = d->json;
  return r;
}

Response list_jobs(Runtime& rt, const Request& req) {
  std::vector<state::JobRecord> jobs;
  if (auto it = req.query.find("app"); it != req.query.end()) {
    auto list = rt.store->list_jobs(it->second);
    if (!list) return error_or(list.error());
    jobs = std::move(*list);
  } else {
    auto apps = rt.store->list_apps();
    if (!apps) return error_or(apps.error());
    for (const auto& a : *apps) {
      auto list = rt.store->list_jobs(a.id);
      if (!list) return error_or(list.error());
      jobs.insert(jobs.end(), list->begin(), list->end());
    }
  }
  std::sort(jobs.begin(), jobs.end(), [](const auto& a, const auto& b) { return a.id > b.id; });
  json out = json::array();
  for (const auto& j : jobs) out.push_back(job_json(j));
  return Response::json(200, {{"jobs", out}});
}

Response get_job(Runtime& rt, const Request& req) {
  const auto& id_text = req.param("id");
  state::JobId id = 0;
  try {
    std::size_t used = 0;
    id = std::stoll(id_text, &used);
    if (used != id_text.size()) throw std::invalid_argument(id_text);
  } catch (const std::exception&) {
    return transport::error_response("not_found", "job '" + id_text + "' does not exist");
  }
  auto job = rt.store->get_job(id);
  if (!job) return error_or(job.error());
  auto steps = rt.store->steps(id);
  if (!steps) return error_or(steps.error());
  return Response::json(200, job_json(*job, *steps));
}

}  // namespace

void add_store_routes(transport::Router& router, Runtime& rt) {
  using transport::kOperatorOnly;
  router.add(Method::get, "/v1/apps/{app}/descriptions", kOperatorOnly,
             [&rt](const Request& r) { return get_descriptions(rt, r); });
  router.add(Method::get, "/v1/apps/{app}/descriptions/{kind}/{generation}", kOperatorOnly,
             [&rt](const Request& r) { return get_description(rt, r); });
  router.add(Method::get, "/v1/jobs", kOperatorOnly,
             [&rt](const Request& r) { return list_jobs(rt, r); });
  router.add(Method::get, "/v1/jobs/{id}", kOperatorOnly,
             [&rt](const Request& r) { return get_job(rt, r); });
}

void add_common_metrics(metrics::Exposition& out, Runtime& rt) {
  using metrics::Type;
  const std::string site = rt.config.site_name();
  out.family("drpair_up", Type::gauge, "1 while the agent serves.")
      .add({{"site", site}, {"role", config::to_string(rt.config.role)}}, 1);
  auto& peer_up =
      out.family("drpair_peer_up", Type::gauge, "1 if the last call to the peer agent reached it.");
  peer_up.add({{"peer", rt.config.peer.site}}, rt.peer_tracker.reachable() ? 1 : 0);
  auto& contact = out.family("drpair_peer_last_contact_timestamp_seconds", Type::gauge,
                             "When the peer agent last answered (Unix seconds).");
  if (auto t = rt.peer_tracker.last_contact()) {
    contact.add({{"peer", rt.config.peer.site}},
                static_cast<double>(t->time_since_epoch().count()) / 1000.0);
  }
  auto apps = rt.store->list_apps();
  if (!apps) return;
  auto& state =
      out.family("drpair_app_state", Type::gauge, "1 for the app's current protection state.");
  auto& gen = out.family("drpair_app_generation", Type::gauge,
                         "The description generation protected or registered.");
  auto& lag = out.family("drpair_image_replication_lag_seconds", Type::gauge,
                         "Age of the newest mirror snapshot complete at the DR site.");
  auto& sync = out.family("drpair_image_last_sync_timestamp_seconds", Type::gauge,
                          "When the newest mirror snapshot landed at the DR site (Unix seconds).");
  auto& jobs = out.family("drpair_jobs", Type::gauge, "Jobs in the store by type and state.");
  auto& steps = out.family("drpair_job_step_duration_seconds", Type::summary,
                           "Durations of finished job steps, by job type and step kind.");
  std::map<std::pair<std::string, std::string>, int> job_counts;
  std::map<std::pair<std::string, std::string>, std::pair<double, int>> step_sums;
  for (const auto& a : *apps) {
    state.add({{"app", a.id}, {"state", to_string(a.state)}}, 1);
    gen.add({{"app", a.id}}, static_cast<double>(a.generation));
    if (auto pairs = rt.store->mirror_pairs(a.id)) {
      for (const auto& p : *pairs) {
        const metrics::Labels labels{{"app", a.id},
                                     {"image", p.target.pool + "/" + p.target.image}};
        if (p.status.lag_seconds) lag.add(labels, static_cast<double>(*p.status.lag_seconds));
        if (p.status.last_sync_at) {
          sync.add(labels,
                   static_cast<double>(p.status.last_sync_at->time_since_epoch().count()) / 1000.0);
        }
      }
    }
    auto list = rt.store->list_jobs(a.id);
    if (!list) continue;
    for (const auto& j : *list) {
      job_counts[{to_string(j.type), to_string(j.state)}] += 1;
      auto job_steps = rt.store->steps(j.id);
      if (!job_steps) continue;
      for (const auto& s : *job_steps) {
        if (!s.duration_ms || s.state != state::StepState::done) continue;
        // The step's kind: "promote:rbd/x" -> "promote", "restore/define-domain:vm" ->
        // "restore/define-domain".
        const auto kind = s.name.substr(0, s.name.find(':'));
        auto& sum = step_sums[{to_string(j.type), kind}];
        sum.first += static_cast<double>(*s.duration_ms) / 1000.0;
        sum.second += 1;
      }
    }
  }
  for (const auto& [key, n] : job_counts) jobs.add({{"type", key.first}, {"state", key.second}}, n);
  for (const auto& [key, sum] : step_sums) {
    const metrics::Labels labels{{"type", key.first}, {"step", key.second}};
    steps.add_sample("_sum", labels, sum.first);
    steps.add_sample("_count", labels, sum.second);
  }
}

namespace {

void log_line(std::string_view program, std::string_view line) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::cerr << format_time(now()) << ' ' << program << ": " << line << std::endl;
}

Result<std::unique_ptr<transport::PeerClient>> make_peer_client(const config::AgentConfig& c,
                                                                std::chrono::seconds timeout,
                                                                PeerTracker& tracker) {
  transport::ClientOptions options;
  options.host = c.peer.host;
  options.port = c.peer.port;
  options.tls = {c.tls.cert_file, c.tls.key_file, c.peer.ca_file};
  options.expected_site = c.peer.site;
  options.connect_timeout = std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(5));
  options.request_timeout = timeout;
  auto client = transport::BeastPeerClient::create(options);
  if (!client) return client.error();
  return std::unique_ptr<transport::PeerClient>(
      std::make_unique<TrackedPeerClient>(std::move(*client), tracker));
}

}  // namespace

std::shared_ptr<transport::Router> make_router(Runtime& rt, Service& service) {
  auto router = std::make_shared<transport::Router>();
  service.add_routes(*router);
  add_store_routes(*router, rt);
  router->add(Method::get, "/healthz", transport::kAnyCaller, [&rt](const Request&) {
    return Response::json(200, {{"status", "ok"},
                                {"site", rt.config.site_name()},
                                {"role", config::to_string(rt.config.role)},
                                {"peer", rt.peer_tracker.to_json(rt.config.peer.site)}});
  });
  router->add(Method::get, "/metrics", transport::kAnyCaller, [&rt, &service](const Request&) {
    metrics::Exposition out;
    add_common_metrics(out, rt);
    service.add_metrics(out);
    Response r = Response::text(200, out.text());
    r.content_type = std::string(metrics::kContentType);
    return r;
  });
  return router;
}

int run_agent(int argc, char** argv, config::AgentRole role,
              const std::function<std::unique_ptr<Service>(Runtime&)>& make_service) {
  const std::string program =
      role == config::AgentRole::production ? "drpair-production-agent" : "drpair-dr-agent";
  CLI::App cli{"drpair " + std::string(config::to_string(role)) + " agent", program};
  std::string config_path;
  cli.add_option("--config", config_path, "The agent's config file (README, Configuration)")
      ->required();
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  // Signals are taken by sigwait below: block them before any thread (libvirt's, librados')
  // exists, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto log = [program](std::string_view line) { log_line(program, line); };
  auto loaded = config::load_agent_config(config_path);
  if (!loaded) {
    for (const auto& p : loaded.error()) log(config_path + ": " + model::format(p));
    return 2;
  }
  if (loaded->role != role) {
    log(config_path + ": /role: this is the " + config::to_string(role) +
        " agent, the config is for '" + config::to_string(loaded->role) + "'");
    return 2;
  }
  Runtime rt;
  rt.config = std::move(*loaded);
  rt.log = log;
  auto store = state::SqliteStateStore::open(rt.config.state_file);
  if (!store) {
    log("state file " + rt.config.state_file + ": " + store.error().message);
    return 1;
  }
  rt.store = std::move(*store);
  auto hv = virt::open_libvirt(rt.config.libvirt_uri);
  if (!hv) {
    log("libvirt " + rt.config.libvirt_uri + ": " + hv.error().message);
    return 1;
  }
  rt.hypervisor = std::shared_ptr<virt::Hypervisor>(std::move(*hv));
  rt.workers = virt::libvirt_factory(rt.config.libvirt_uri, rt.hypervisor);
  auto ceph = storage::open_rbd_mirror_storage({rt.config.ceph_conf, rt.config.ceph_client_id});
  if (!ceph) {
    log("ceph " + rt.config.ceph_conf + ": " + ceph.error().message);
    return 1;
  }
  rt.storage = std::move(*ceph);
  auto peer = make_peer_client(rt.config, rt.config.peer.timeout, rt.peer_tracker);
  auto fence = make_peer_client(rt.config, rt.config.failover.fence_timeout, rt.peer_tracker);
  if (!peer || !fence) {
    log("peer " + rt.config.peer.url + ": " + (peer ? fence.error() : peer.error()).message);
    return 1;
  }
  rt.peer = std::move(*peer);
  rt.peer_fence = std::move(*fence);

  auto service = make_service(rt);
  auto router = make_router(rt, *service);

  transport::ServerOptions options;
  options.address = rt.config.listen_address;
  options.port = rt.config.listen_port;
  options.tls = rt.config.tls;
  options.auth = rt.config.auth;
  options.handler_threads = 4;
  options.log = log;
  auto server = transport::HttpServer::start(options, router);
  if (!server) {
    log("listen " + rt.config.listen_address + ":" + std::to_string(rt.config.listen_port) + ": " +
        server.error().message);
    return 1;
  }
  log(rt.config.site_name() + " listening on " + rt.config.listen_address + ":" +
      std::to_string((*server)->port()));
  if (auto resumed = service->executor().resume_unfinished(); !resumed) {
    log("cannot resume jobs: " + resumed.error().message);
  } else if (*resumed > 0) {
    log("resumed " + std::to_string(*resumed) + " unfinished job(s)");
  }
  std::jthread loops([&service](std::stop_token stop) { service->run_loops(stop); });

  int signal = 0;
  sigwait(&signals, &signal);
  log(std::string("stopping (") + (signal == SIGTERM ? "SIGTERM" : "SIGINT") + ")");
  loops.request_stop();
  loops.join();
  (*server)->stop();
  service->executor().stop();
  log("stopped");
  return 0;
}

}  // namespace dr::service
