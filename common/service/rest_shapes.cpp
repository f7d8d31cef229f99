#include "service/rest_shapes.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace dr::service {

using nlohmann::json;
using transport::Response;

state::Timestamp now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::optional<std::int64_t> parse_integer(std::string_view text, std::int64_t lo,
                                          std::int64_t hi) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < lo || value > hi) {
    return std::nullopt;
  }
  return value;
}

json optional_time(const std::optional<state::Timestamp>& t) {
  return t ? json(format_time(*t)) : json(nullptr);
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

}  // namespace dr::service
