#include "service/service.hpp"

#include <algorithm>
#include <limits>
#include <map>

#include "service/audit.hpp"
#include "transport/error_mapping.hpp"

namespace dr::service {

using nlohmann::json;
using transport::Method;
using transport::Request;
using transport::Response;

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
    const auto n = parse_integer(gen, 0, std::numeric_limits<std::int64_t>::max());
    if (!n) {
      return transport::error_response(
          "invalid_argument",
          "generation must be a non-negative integer or 'latest', not '" + gen + "'");
    }
    d = rt.store->get_description(app, *kind, *n);
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
  const auto id = parse_integer(id_text, std::numeric_limits<std::int64_t>::min(),
                                std::numeric_limits<std::int64_t>::max());
  if (!id) return transport::error_response("not_found", "job '" + id_text + "' does not exist");
  auto job = rt.store->get_job(*id);
  if (!job) return error_or(job.error());
  auto steps = rt.store->steps(*id);
  if (!steps) return error_or(steps.error());
  return Response::json(200, job_json(*job, *steps));
}

}  // namespace

void add_store_routes(transport::Router& router, Runtime& rt) {
  using transport::kReaders;
  router.add(Method::get, "/v1/apps/{app}/descriptions", kReaders,
             [&rt](const Request& r) { return get_descriptions(rt, r); });
  router.add(Method::get, "/v1/apps/{app}/descriptions/{kind}/{generation}", kReaders,
             [&rt](const Request& r) { return get_description(rt, r); });
  add_audit_route(router, rt);
  router.add(Method::get, "/v1/jobs", kReaders,
             [&rt](const Request& r) { return list_jobs(rt, r); });
  router.add(Method::get, "/v1/jobs/{id}", kReaders,
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


std::shared_ptr<transport::Router> make_router(Runtime& rt, Service& service) {
  auto router = std::make_shared<transport::Router>();
  service.add_routes(*router);
  add_store_routes(*router, rt);
  // Both on the quick lane: a monitor sees the agent alive however busy its handlers are.
  router->add(
      Method::get, "/healthz", transport::kAnyCaller,
      [&rt](const Request&) {
        return Response::json(200, {{"status", "ok"},
                                    {"site", rt.config.site_name()},
                                    {"role", config::to_string(rt.config.role)},
                                    {"peer", rt.peer_tracker.to_json(rt.config.peer.site)}});
      },
      {.lane = transport::Lane::quick});
  router->add(
      Method::get, "/metrics", transport::kAnyCaller,
      [&rt, &service](const Request&) {
        metrics::Exposition out;
        add_common_metrics(out, rt);
        service.add_metrics(out);
        Response r = Response::text(200, out.text());
        r.content_type = std::string(metrics::kContentType);
        return r;
      },
      {.lane = transport::Lane::quick});
  return router;
}

}  // namespace dr::service
