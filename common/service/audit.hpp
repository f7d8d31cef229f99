#pragma once
// The agents' audit trail (README, "Audit"): who asked for what, and what came of it. The HTTPS
// server tells its sink of every request that changed something and every refusal
// (transport/http_server.hpp, ServerOptions::audit); the sink writes one AuditRecord each to the
// state store, with the job the request started or found, and purges records older than
// audit.retentionDays (at most once an hour). GET /v1/audit reads them back, newest first.
//
// A record that cannot be written is logged, never a reason to refuse the request: the trail
// is for after the fact, and the worst day is not the day to stop answering.
//
// Thread-safety: the sink is called from the server's handler pool; it uses only the
// thread-safe store and an atomic.

#include <functional>
#include <nlohmann/json.hpp>

#include "service/service.hpp"
#include "state/state_store.hpp"
#include "transport/http_server.hpp"
#include "transport/router.hpp"

namespace dr::service {

std::function<void(const transport::AnsweredRequest&)> audit_sink(Runtime& runtime);

// The record of one answered request (its job from a 202 answer's "job" or first of "jobs", its
// message from an error answer).
state::AuditRecord audit_record(const transport::AnsweredRequest& answered, state::Timestamp at);

// {"id", "at", "caller": {"kind", "name"}, "method", "path", "status", "job"?, "message"?}
nlohmann::json audit_json(const state::AuditRecord& record);

// GET /v1/audit[?limit=N&before=ID]: {"entries": [...]}, newest first; limit 1-1000 (100).
void add_audit_route(transport::Router& router, Runtime& runtime);

}  // namespace dr::service
