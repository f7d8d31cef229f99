#include "service/audit.hpp"

#include <atomic>
#include <limits>
#include <memory>
#include <string>

#include "model/json_reader.hpp"
#include "transport/error_mapping.hpp"

namespace dr::service {
namespace {

using nlohmann::json;
using transport::Request;
using transport::Response;

std::optional<std::int64_t> job_of(const json& doc) {
  const json* job = nullptr;
  if (doc.contains("job")) job = &doc["job"];
  if (job == nullptr && doc.contains("jobs") && doc["jobs"].is_array() && !doc["jobs"].empty()) {
    job = &doc["jobs"][0];
  }
  if (job == nullptr || !job->is_object() || !job->contains("id")) return std::nullopt;
  const json& id = (*job)["id"];
  if (!id.is_number_integer()) return std::nullopt;
  return id.get<std::int64_t>();
}

// A query parameter as an integer in [lo, hi] into `out` (left as it is if absent); the error
// answer if it is not one.
std::optional<Response> read_number(const Request& req, const char* key, std::int64_t lo,
                                    std::int64_t hi, std::optional<std::int64_t>& out) {
  const auto it = req.query.find(key);
  if (it == req.query.end()) return std::nullopt;
  out = parse_integer(it->second, lo, hi);
  if (out) return std::nullopt;
  return transport::error_response("invalid_argument",
                                   std::string("query parameter '") + key + "' must be an " +
                                       "integer from " + std::to_string(lo) + " to " +
                                       std::to_string(hi) + ", not '" + it->second + "'");
}

}  // namespace

state::AuditRecord audit_record(const transport::AnsweredRequest& answered, state::Timestamp at) {
  state::AuditRecord r;
  r.at = at;
  r.caller_kind = transport::to_string(answered.caller.kind);
  r.caller = answered.caller.name;
  r.method = transport::to_string(answered.method);
  r.path = answered.path;
  r.status = answered.status;
  // Only a job's or an error's answer holds what the record keeps: others are not read again.
  if (answered.status != 202 && answered.status < 400) return r;
  if (auto doc = model::parse_json(answered.body); doc && doc->is_object()) {
    if (answered.status == 202) r.job_id = job_of(*doc);
    if (answered.status >= 400 && doc->contains("error") && (*doc)["error"].is_object()) {
      const json& e = (*doc)["error"];
      if (e.contains("message") && e["message"].is_string()) {
        r.message = e["message"].get<std::string>();
      }
    }
  }
  return r;
}

json audit_json(const state::AuditRecord& r) {
  json out{{"id", r.id},
           {"at", format_time(r.at)},
           {"caller", {{"kind", r.caller_kind}, {"name", r.caller}}},
           {"method", r.method},
           {"path", r.path},
           {"status", r.status}};
  if (r.job_id) out["job"] = *r.job_id;
  if (!r.message.empty()) out["message"] = r.message;
  return out;
}

std::function<void(const transport::AnsweredRequest&)> audit_sink(Runtime& rt) {
  auto last_purge = std::make_shared<std::atomic<std::int64_t>>(0);
  return [&rt, last_purge](const transport::AnsweredRequest& answered) {
    const auto at = now();
    if (auto stored = rt.store->append_audit(audit_record(answered, at)); !stored && rt.log) {
      rt.log("audit: cannot record " + std::string(transport::to_string(answered.method)) + " " +
             answered.path + " by " + answered.caller.name + ": " + stored.error().message);
    }
    const auto ms = at.time_since_epoch().count();
    auto previous = last_purge->load();
    if (ms - previous < 3'600'000 || !last_purge->compare_exchange_strong(previous, ms)) return;
    const auto cutoff = at - std::chrono::duration_cast<std::chrono::milliseconds>(
                                 rt.config.audit_retention);
    if (auto purged = rt.store->purge_audit(cutoff); !purged && rt.log) {
      rt.log("audit: cannot purge old records: " + purged.error().message);
    }
  };
}

void add_audit_route(transport::Router& router, Runtime& rt) {
  router.add(transport::Method::get, "/v1/audit", transport::kReaders, [&rt](const Request& req) {
    std::optional<std::int64_t> limit;
    std::optional<std::int64_t> before;
    if (auto bad = read_number(req, "limit", 1, 1000, limit)) return *bad;
    if (auto bad = read_number(req, "before", 1, std::numeric_limits<std::int64_t>::max(), before)) {
      return *bad;
    }
    auto records = rt.store->list_audit(static_cast<std::size_t>(limit.value_or(100)), before);
    if (!records) return transport::error_response(records.error());
    json entries = json::array();
    for (const auto& r : *records) entries.push_back(audit_json(r));
    return Response::json(200, {{"entries", std::move(entries)}});
  });
}

}  // namespace dr::service
