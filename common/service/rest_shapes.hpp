#pragma once
// The JSON shapes of the store's records on both agents' REST API (README "REST API",
// schemas/openapi.yaml): times, errors, jobs with their steps, mirror pairs, apps, and the 202
// answer to a request that started a job; and the integers its paths and queries carry.

#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/time_text.hpp"
#include "state/state_store.hpp"
#include "transport/router.hpp"

namespace dr::service {

// RFC 3339 UTC with milliseconds: "2026-11-25T10:00:00.123Z".
using dr::format_time;  // core/time_text.hpp
nlohmann::json optional_time(const std::optional<state::Timestamp>& t);  // null when unset
state::Timestamp now();

nlohmann::json error_json(const Error& e);  // {"code","message"}
nlohmann::json job_json(const state::JobRecord& job);
nlohmann::json job_json(const state::JobRecord& job, const std::vector<state::JobStep>& steps);
nlohmann::json pairs_json(const std::vector<state::MirrorPairRecord>& pairs);
// AppDetail without "images" and "peer": the caller adds what its side knows.
nlohmann::json app_json(const state::AppRecord& app, const std::string& name, int vms);

// `text` as a decimal integer in [lo, hi], all of it (no sign but '-', no spaces); nullopt
// otherwise.
std::optional<std::int64_t> parse_integer(std::string_view text, std::int64_t lo, std::int64_t hi);

// The app's newest jobs (at most `limit`), without steps, newest first.
nlohmann::json recent_jobs(state::StateStore& store, const std::string& app_id,
                           std::size_t limit = 10);

// The answer to a request that started (or found) a job: 202 {"job": Job, "created": bool},
// Location: /v1/jobs/ID.
transport::Response job_accepted(state::StateStore& store, const state::CreatedJob& created);

}  // namespace dr::service
