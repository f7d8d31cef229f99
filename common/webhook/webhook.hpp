#pragma once
// Failover webhooks as monitoring systems send them to the DR agent (README "Webhooks"):
//
// 1. The signed hook, POST /v1/hooks/failover:
//      body    {"app": "APP1", "type": "disaster", "idempotencyKey": "...", "reason": "...",
//               "force": false}                       // type: "disaster" | "planned"
//      header  X-Drpair-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//    verify_signature() checks the header against the raw body bytes: malformed header, wrong
//    HMAC (compared in constant time), or a timestamp further than `max_age` from now in either
//    direction (the past: a stale or replayed delivery; the future: a clock that is off) are each
//    a distinct Errc-free verdict with a message, so the agent answers 401 and logs why.
//    Several v1= entries are allowed (secret rotation): any one matching is enough.
//    Replay protection (the same signature seen twice within max_age) is the agent's, through
//    StateStore::remember_webhook(delivery_key(...)).
// 2. Prometheus Alertmanager's webhook payload (version "4"), POST /v1/hooks/alertmanager with a
//    bearer token: alerts_to_failovers() turns the *firing* alerts carrying `app_label` into one
//    failover request per app (resolved alerts and alerts without the label do nothing); the
//    idempotency key is derived from the alert's fingerprint (or its labels) and startsAt, so
//    Alertmanager's repeats of one firing alert start one job.
//
// Pure functions over values; thread-safe.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/result.hpp"
#include "model/problem.hpp"

namespace dr::webhook {

inline constexpr std::string_view kSignatureHeader = "X-Drpair-Signature";

struct SignatureCheck {
  bool ok = false;
  std::string reason;  // when !ok: "malformed signature header", "signature does not match",
                       // "timestamp 1764000000 is 612 s old (limit 300 s)", ...
  std::int64_t timestamp = 0;  // t= when it parsed
};

SignatureCheck verify_signature(std::string_view header, std::string_view raw_body,
                                std::string_view secret, std::chrono::seconds max_age,
                                std::chrono::system_clock::time_point now);

// The header value a sender computes: "t=<t>,v1=<hex>" (tests, the lab, the README's example).
std::string sign(std::string_view raw_body, std::string_view secret, std::int64_t unix_seconds);

// Lower-case hex HMAC-SHA256(key, data).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// The key under which a verified delivery is remembered for replay protection: its timestamp and
// the SHA-256 of its raw body ("t=<t>,body=<hex>"). A delivery is what was signed, so a replay
// with its signature header re-spelt or with extra v1= entries is the same delivery.
std::string delivery_key(std::int64_t timestamp, std::string_view raw_body);

enum class FailoverType { planned, disaster };
const char* to_string(FailoverType type) noexcept;  // "planned", "disaster"
std::optional<FailoverType> parse_failover_type(std::string_view text);

struct FailoverRequest {
  std::string app;
  FailoverType type = FailoverType::disaster;
  std::string idempotency_key;  // required in the signed hook; derived for Alertmanager
  std::string reason;
  bool force = false;
};

// The signed hook's body. Problems with pointers for a body that is not JSON or not an object
// (pointer ""), a missing or empty app / idempotencyKey, a missing type or one that is not
// "planned" or "disaster" (a trigger says what it means: there is no default), a reason that is
// not a string, a non-boolean force; unknown keys are ignored (senders add fields).
// reason defaults to "", force to false.
Result<FailoverRequest, model::Problems> parse_failover_request(std::string_view body);

// An operator's POST /v1/apps/{app}/failover body (already parsed by the router): the same
// fields but `app`, which is the path's; idempotencyKey optional; unknown keys are refused (an
// operator's typo, e.g. "forse", must not be ignored).
Result<FailoverRequest, model::Problems> read_operator_failover(const nlohmann::json& body,
                                                                std::string app);

struct AlertmanagerOptions {
  std::string app_label = "drpair_app";
  FailoverType type = FailoverType::disaster;
};

// One request per app named by a firing alert (first alert per app wins), in alert order; the
// reason names the alert ("alertname=SiteDown", or its labels when it has no alertname); the key
// is "alertmanager:<fingerprint>:<startsAt>", with the SHA-256 of the sorted labels when there is
// no fingerprint. Problems for a payload that is not Alertmanager's: not JSON, not an object, a
// version other than "4" (a missing version is accepted), no "alerts" array, an alert that is not
// an object, without status ("firing" | "resolved"), labels (an object of strings) or startsAt, or
// with an empty fingerprint. Any problem rejects the whole payload.
Result<std::vector<FailoverRequest>, model::Problems> alerts_to_failovers(
    std::string_view body, const AlertmanagerOptions& options);

}  // namespace dr::webhook
