#pragma once
// StateStore: an agent's durable memory (docs/architecture.md, "Layout"; issue 6). It holds
//   - apps: the applications this agent protects (production agent, role protected_source) or has
//     registered as recoverable (DR agent, role registered_replica), with their state;
//   - every version of each app's first and second description, keyed by generation;
//   - the app's RBD mirror pairs and the last status seen for each;
//   - jobs (protect, failover, restore, failback, drill, ...) with their step journal, so a job cut
//     off by a crash resumes when the agent restarts, and idempotency keys, so the same request
//     twice starts one job;
//   - webhook delivery keys, for replay protection.
//
// Ownership: the store owns its storage (a file, for the SQLite implementation); it returns values,
// never references into itself. JSON documents are stored and returned as text, byte for byte; the
// store only checks that they are JSON.
//
// Thread-safety: every method may be called from several threads at once; each call is one atomic
// transaction and blocks (disk I/O, fsync), so agents call it from the blocking pool, never from an
// io_context thread. One agent process owns one store file.
//
// Errors (dr::Errc), each naming the object ("app 'app1'", "job 7", "step 'promote' of job 7"):
//   not_found            the app, job, step, description or mirror pair is not there
//   already_exists       creating what exists, or a different document for a stored generation
//   invalid_argument     an empty id or name, or JSON text that is not JSON
//   failed_precondition  a transition the state machines below do not allow, an app that already
//                        has an unfinished job, a database written by a newer drpair
//   aborted              optimistic concurrency: the app's version moved since it was read;
//                        re-read and redo the whole step
//   unavailable          the database stayed locked beyond the busy timeout, or the disk is full
//                        or failing; retry the call
//   internal             a corrupt database or a value this code does not know

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace dr::state {

// Wall-clock instants, kept to the millisecond (stored as Unix milliseconds).
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

// ---- apps ---------------------------------------------------------------------------------------

enum class AppRole {
  protected_source,    // production agent: this site runs the app and ships its descriptions
  registered_replica,  // DR agent: this site holds the replica and can restore the app
};

// The app's protection state. An app is created in any state; staying in a state is allowed.
// @verbatim
//                       +------------- new generation shipped -------------+
//                       v                                                  |
//   unprotected ---> protecting -------------------------------------> protected <--------+
//        ^              |    |                                             |              |
//        |              |    +------> failing_over <-----------------------+              |
//        |              |                  |                                              |
//        |              |                  v                                              |
//        |              |             failed_over ---> reprotecting ---> protected_reverse |
//        |              |                  |                                  |    |      |
//        +--------------+------------------+----------------------------------+    v      |
//                   (unprotect)                                          failing_back ----+
//
//   protecting, failing_over, reprotecting, failing_back ---> failed ---> any state
// @endverbatim
// In words: unprotected -> protecting; protecting -> protected | failing_over | failed |
// unprotected; protected -> protecting | failing_over | unprotected; failing_over -> failed_over |
// failed; failed_over -> reprotecting | protected_reverse | protecting | unprotected;
// reprotecting -> protected_reverse | failed; protected_reverse -> reprotecting (disks added at
// the DR site) | failing_back | protected | unprotected; failing_back -> protected | failed; failed -> any. (protecting -> failing_over: a
// disaster while a new generation is being protected still fails over what is replicated.
// failed_over -> protected_reverse and protected_reverse -> protected are the production site's:
// it is told by the DR agent's reprotect and failback jobs, which own the app there.)
enum class AppState {
  unprotected,   // known, but nothing is replicated (new, or protection removed)
  protecting,    // mirror pairs being set up or changed (new generation); not yet recoverable
  protected_,    // spelled "protected" (a C++ keyword); recoverable at the DR site
  failing_over,  // a failover job owns the app
  failed_over,   // running at the DR site; the production site is fenced (no VM, no primary)
  reprotecting,  // a reprotect job owns the app: the production site's copies are resynced
  protected_reverse,  // running at the DR site, replicated back to the production site
  failing_back,  // a failback job owns the app
  failed,        // a job left it in an unknown state; last_error says why
};

// Defined at the end of this header.
constexpr bool is_allowed_transition(AppState from, AppState to) noexcept;

// The app has left its production site (failing over, failed over, reprotected, failing back):
// the lifecycle's jobs own it there, and it is neither re-protected nor re-registered meanwhile.
constexpr bool is_away(AppState s) noexcept {
  return s == AppState::failing_over || s == AppState::failed_over ||
         s == AppState::reprotecting || s == AppState::protected_reverse ||
         s == AppState::failing_back;
}

struct AppRecord {
  std::string id;  // the app id of the descriptions ("app1")
  AppRole role = AppRole::registered_replica;
  AppState state = AppState::unprotected;
  std::int64_t generation = 0;  // the generation currently protected or registered
  std::string peer_site;        // the other site of the pair ("site-a")
  // Optimistic concurrency: 0 in a record that was never stored; the store sets it to 1 on
  // creation and adds 1 on every update.
  std::int64_t version = 0;
  Timestamp created_at{};
  Timestamp updated_at{};
  std::optional<Error> last_error;  // code and message; `native` is not kept
};

// ---- descriptions -------------------------------------------------------------------------------

enum class DescriptionKind { first, second };

struct DescriptionVersion {
  std::string app_id;
  DescriptionKind kind = DescriptionKind::first;
  std::int64_t generation = 0;
  std::string json;  // the document as received or generated, byte for byte
  Timestamp stored_at{};
};

// ---- mirror pairs -------------------------------------------------------------------------------

struct ImageRef {
  std::string pool;  // a pool spec: "POOL" or "POOL/NAMESPACE" (storage/mirror_storage.hpp)
  std::string image;
  bool operator==(const ImageRef&) const = default;
};

enum class MirrorMode { snapshot, journal };

// The last status seen for one pair (from `rbd mirror image status`), for dashboards and RPO.
struct MirrorStatus {
  std::string text;                         // "up+replaying", ""; as the storage layer reports it
  std::optional<Timestamp> last_sync_at;    // the last mirror snapshot known to have landed
  std::optional<std::int64_t> lag_seconds;  // now - last sync, when known
  std::optional<Timestamp> checked_at;      // when this status was recorded
};

struct MirrorPairRecord {
  std::string app_id;
  ImageRef source;  // at the production site
  ImageRef target;  // at the DR site
  MirrorMode mode = MirrorMode::snapshot;
  int interval_minutes = 1;
  MirrorStatus status;
};

// ---- jobs and their step journal ----------------------------------------------------------------

using JobId = std::int64_t;  // assigned by the store, increasing, never reused

enum class JobType {
  protect,
  unprotect,
  register_replica,  // DR agent: accept a first or second description
  failover_planned,
  failover_disaster,
  restore,
  reprotect,
  failback,
  drill,
  drill_cleanup,
  fence,  // production agent: the app failed over while this site was away; step aside
};

// Job states:
// @verbatim
//   pending ---> running ---> succeeded
//      |           |  ^
//      |           |  +------ failed      (resumed on an operator's request)
//      +-----------+--------> failed
//      +-----------+--------> cancelled
// @endverbatim
// succeeded and cancelled are final. Staying in the same state is allowed and changes nothing.
enum class JobState { pending, running, succeeded, failed, cancelled };

// Not over yet: an app has at most one such job at a time.
constexpr bool is_unfinished(JobState s) noexcept {
  return s == JobState::pending || s == JobState::running;
}

constexpr bool is_allowed_transition(JobState from, JobState to) noexcept;

// One request an agent answered that changed something or was refused.
struct AuditRecord {
  std::int64_t id = 0;  // assigned by the store
  Timestamp at{};
  std::string caller_kind;  // "operator", "viewer", "peer_site", "alertmanager", "anonymous"
  std::string caller;       // certificate CN, token name or site name
  std::string method;       // "POST"
  std::string path;         // "/v1/apps/app1/failover"
  int status = 0;
  std::optional<JobId> job_id;  // the job the request started or found
  std::string message;          // a refusal's or an error's message; "" for a success
};

struct JobRecord {
  JobId id = 0;
  std::string app_id;
  JobType type = JobType::protect;
  JobState state = JobState::pending;
  std::optional<std::string> idempotency_key;
  std::string request_json = "{}";  // the request that started the job, as received
  std::string current_step;         // the step last recorded (intent or result); "" before any
  Timestamp created_at{};
  Timestamp updated_at{};
  std::optional<Error> error;  // why the job failed; `native` is not kept
};

struct CreatedJob {
  JobRecord job;
  bool created = false;  // false: the idempotency key was used before and `job` is that job
};

// A step's journal entry. Write-then-switch: the workflow records the intent before the side
// effect and the result after, so after a crash a step is in one of three states:
//   intent_recorded  the side effect may or may not have happened: check the world, then redo it
//                    (every step is idempotent) and record the result;
//   done             the side effect happened: skip the step;
//   failed           it failed with `error`; the job decides whether to retry or fail.
// @verbatim
//            record_step_intent                   record_step_done
//   (none) ----------------------> intent_recorded ----------------> done (final)
//                                   |      ^    ^
//              record_step_failed   |      |    | record_step_intent: another attempt
//                                   v      |    +-- (the agent restarted mid-step)
//                                 failed --+
//                                    record_step_intent: retry
// @endverbatim
enum class StepState { intent_recorded, done, failed };

struct JobStep {
  JobId job_id = 0;
  int seq = 0;       // 1, 2, ...: the order in which the steps were first attempted
  std::string name;  // unique within its job: "promote:rbd-dr/vm1-root", "define:app1-web1"
  StepState state = StepState::intent_recorded;
  int attempts = 0;                         // how many times the intent was recorded
  Timestamp started_at{};                   // of the latest attempt
  std::optional<Timestamp> finished_at;     // of the latest attempt, once done or failed
  std::optional<std::int64_t> duration_ms;  // finished_at - started_at
  std::string detail_json = "{}";           // what the step did or found (ids, counts, ...)
  std::optional<Error> error;               // when failed
};

// ---- the store ----------------------------------------------------------------------------------

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Apps. create: `app.version` must be 0 (already_exists if the id is taken). update:
  // `app.version` must be the version read (aborted if it moved, not_found if the app is gone) and
  // the state change allowed (failed_precondition). Returns the stored record (new version,
  // timestamps).
  virtual Result<AppRecord> upsert_app(const AppRecord& app) = 0;
  virtual Result<AppRecord> get_app(std::string_view app_id) = 0;
  virtual Result<std::vector<AppRecord>> list_apps() = 0;  // ordered by id
  // Removes the app with its descriptions and mirror pairs; its jobs stay as history.
  // aborted if the version moved; failed_precondition while it has an unfinished job.
  virtual Status delete_app(std::string_view app_id, std::int64_t expected_version) = 0;

  // Descriptions: immutable once stored. Storing the same (app, kind, generation) again with the
  // same text is a no-op that returns the stored version (a retried ship); with other text it is
  // already_exists. not_found if the app does not exist.
  virtual Result<DescriptionVersion> put_description(std::string_view app_id, DescriptionKind kind,
                                                     std::int64_t generation,
                                                     std::string_view json) = 0;
  virtual Result<DescriptionVersion> get_description(std::string_view app_id, DescriptionKind kind,
                                                     std::int64_t generation) = 0;
  // The highest generation stored; not_found when there is none.
  virtual Result<DescriptionVersion> latest_description(std::string_view app_id,
                                                        DescriptionKind kind) = 0;
  virtual Result<std::vector<DescriptionVersion>> list_descriptions(std::string_view app_id,
                                                                    DescriptionKind kind) = 0;

  // Mirror pairs. Replaces the app's whole set at once (a new generation adds or drops disks);
  // a pair kept with the same target keeps its last status. Each record's app_id is ignored
  // (the pairs belong to `app_id`); invalid_argument for two pairs with the same source or target.
  virtual Status replace_mirror_pairs(std::string_view app_id,
                                      const std::vector<MirrorPairRecord>& pairs) = 0;
  virtual Result<std::vector<MirrorPairRecord>> mirror_pairs(std::string_view app_id) = 0;
  // not_found if the app has no pair with that source image.
  virtual Status update_mirror_status(std::string_view app_id, const ImageRef& source,
                                      const MirrorStatus& status) = 0;

  // Jobs. Creates a pending job, or, when `idempotency_key` was used before, returns that job with
  // created == false whatever the request says (the first request wins: a retried webhook may
  // differ in its timestamps). already_exists if the key was used for another app or job type.
  // failed_precondition if the app already has a pending or running job: two jobs never drive one
  // app at once. The app need not exist (a register_replica job creates it).
  virtual Result<CreatedJob> create_job(std::string_view app_id, JobType type,
                                        std::optional<std::string_view> idempotency_key,
                                        std::string_view request_json) = 0;
  virtual Result<JobRecord> get_job(JobId id) = 0;
  virtual Result<std::vector<JobRecord>> list_jobs(std::string_view app_id) = 0;  // by id
  // Pending and running jobs, oldest first: what an agent resumes at startup.
  virtual Result<std::vector<JobRecord>> unfinished_jobs() = 0;
  // failed_precondition for a transition the job diagram does not allow, or for resuming a failed
  // job while its app has another unfinished job. `error` is recorded when moving to failed and
  // cleared when moving to running or succeeded.
  virtual Result<JobRecord> set_job_state(JobId id, JobState to,
                                          const std::optional<Error>& error) = 0;

  // The step journal (diagram at StepState). All three also set the job's current_step.
  // REQUIRES: the job is running (failed_precondition otherwise).
  // record_step_intent on a done step is already_exists: the caller must skip it.
  virtual Result<JobStep> record_step_intent(JobId job, std::string_view step) = 0;
  // failed_precondition unless the step's intent is recorded (a result is never written twice).
  virtual Result<JobStep> record_step_done(JobId job, std::string_view step,
                                           std::string_view detail_json) = 0;
  virtual Result<JobStep> record_step_failed(JobId job, std::string_view step, const Error& error,
                                             std::string_view detail_json) = 0;
  virtual Result<std::vector<JobStep>> steps(JobId job) = 0;  // by seq; not_found if no job

  // Webhook replay protection: true if `key` is new (now remembered for `ttl`), false if it was
  // seen and has not expired. Expired keys are purged on the way.
  virtual Result<bool> remember_webhook(std::string_view key, std::chrono::seconds ttl) = 0;
  virtual Result<int> purge_expired_webhooks() = 0;  // how many were removed

  // Audit trail: one record per request that changed something or was refused. Records are
  // appended, read newest first (at most `limit`, those with an id below `before_id` when given,
  // for paging), and purged by age.
  virtual Result<std::int64_t> append_audit(const AuditRecord& record) = 0;  // the record's id
  virtual Result<std::vector<AuditRecord>> list_audit(
      std::size_t limit, std::optional<std::int64_t> before_id = std::nullopt) = 0;
  virtual Result<int> purge_audit(Timestamp older_than) = 0;  // how many were removed
};

// ---- spellings ----------------------------------------------------------------------------------
// The names used in the database, logs and JSON: the enumerators' own, "protected" for protected_.
// Inline, so the interface target stays header-only.

namespace detail {

template <class E, std::size_t N>
constexpr const char* name_of(E v, const char* const (&names)[N]) noexcept {
  const auto i = static_cast<std::size_t>(v);
  return i < N ? names[i] : "unknown";
}

template <class E, std::size_t N>
Result<E> parse_name(std::string_view s, const char* const (&names)[N], const char* what) {
  for (std::size_t i = 0; i < N; ++i) {
    if (s == names[i]) return static_cast<E>(i);
  }
  return fail(Errc::invalid_argument, std::string("unknown ") + what + " '" + std::string(s) + "'");
}

inline constexpr const char* kAppRoleNames[] = {"protected_source", "registered_replica"};
inline constexpr const char* kAppStateNames[] = {
    "unprotected", "protecting",        "protected",    "failing_over", "failed_over",
    "reprotecting", "protected_reverse", "failing_back", "failed"};
inline constexpr const char* kDescriptionKindNames[] = {"first", "second"};
inline constexpr const char* kMirrorModeNames[] = {"snapshot", "journal"};
inline constexpr const char* kJobTypeNames[] = {
    "protect",          "unprotect",         "register_replica",
    "failover_planned", "failover_disaster", "restore",
    "reprotect",        "failback",          "drill",
    "drill_cleanup",    "fence"};
inline constexpr const char* kJobStateNames[] = {"pending", "running", "succeeded", "failed",
                                                 "cancelled"};
inline constexpr const char* kStepStateNames[] = {"intent_recorded", "done", "failed"};

// One name per enumerator, in declaration order: a new enumerator without its name fails here.
template <auto Last, std::size_t N>
constexpr bool names_all(const char* const (&)[N]) {
  return static_cast<std::size_t>(Last) + 1 == N;
}
static_assert(names_all<AppRole::registered_replica>(kAppRoleNames));
static_assert(names_all<AppState::failed>(kAppStateNames));
static_assert(names_all<DescriptionKind::second>(kDescriptionKindNames));
static_assert(names_all<MirrorMode::journal>(kMirrorModeNames));
static_assert(names_all<JobType::fence>(kJobTypeNames));
static_assert(names_all<JobState::cancelled>(kJobStateNames));
static_assert(names_all<StepState::failed>(kStepStateNames));

}  // namespace detail

constexpr const char* to_string(AppRole v) noexcept {
  return detail::name_of(v, detail::kAppRoleNames);
}
constexpr const char* to_string(AppState v) noexcept {
  return detail::name_of(v, detail::kAppStateNames);
}
constexpr const char* to_string(DescriptionKind v) noexcept {
  return detail::name_of(v, detail::kDescriptionKindNames);
}
constexpr const char* to_string(MirrorMode v) noexcept {
  return detail::name_of(v, detail::kMirrorModeNames);
}
constexpr const char* to_string(JobType v) noexcept {
  return detail::name_of(v, detail::kJobTypeNames);
}
constexpr const char* to_string(JobState v) noexcept {
  return detail::name_of(v, detail::kJobStateNames);
}
constexpr const char* to_string(StepState v) noexcept {
  return detail::name_of(v, detail::kStepStateNames);
}

// invalid_argument for a spelling that is not one of the above.
inline Result<AppRole> parse_app_role(std::string_view s) {
  return detail::parse_name<AppRole>(s, detail::kAppRoleNames, "app role");
}
inline Result<AppState> parse_app_state(std::string_view s) {
  return detail::parse_name<AppState>(s, detail::kAppStateNames, "app state");
}
inline Result<DescriptionKind> parse_description_kind(std::string_view s) {
  return detail::parse_name<DescriptionKind>(s, detail::kDescriptionKindNames, "description kind");
}
inline Result<MirrorMode> parse_mirror_mode(std::string_view s) {
  return detail::parse_name<MirrorMode>(s, detail::kMirrorModeNames, "mirror mode");
}
inline Result<JobType> parse_job_type(std::string_view s) {
  return detail::parse_name<JobType>(s, detail::kJobTypeNames, "job type");
}
inline Result<JobState> parse_job_state(std::string_view s) {
  return detail::parse_name<JobState>(s, detail::kJobStateNames, "job state");
}
inline Result<StepState> parse_step_state(std::string_view s) {
  return detail::parse_name<StepState>(s, detail::kStepStateNames, "step state");
}

// ---- the transition tables (diagrams above) -----------------------------------------------------

constexpr bool is_allowed_transition(AppState from, AppState to) noexcept {
  using S = AppState;
  if (from == to || from == S::failed) return true;
  switch (from) {
    case S::unprotected:
      return to == S::protecting;
    case S::protecting:
      return to == S::protected_ || to == S::failing_over || to == S::failed ||
             to == S::unprotected;
    case S::protected_:
      return to == S::protecting || to == S::failing_over || to == S::unprotected;
    case S::failing_over:
      return to == S::failed_over || to == S::failed;
    case S::failed_over:
      return to == S::reprotecting || to == S::protected_reverse || to == S::protecting ||
             to == S::unprotected;
    case S::reprotecting:
      return to == S::protected_reverse || to == S::failed;
    case S::protected_reverse:
      return to == S::reprotecting || to == S::failing_back || to == S::protected_ ||
             to == S::unprotected;
    case S::failing_back:
      return to == S::protected_ || to == S::failed;
    case S::failed:
      return true;
  }
  return false;
}

constexpr bool is_allowed_transition(JobState from, JobState to) noexcept {
  using S = JobState;
  if (from == to) return true;
  switch (from) {
    case S::pending:
      return to == S::running || to == S::failed || to == S::cancelled;
    case S::running:
      return to == S::succeeded || to == S::failed || to == S::cancelled;
    case S::failed:
      return to == S::running;
    case S::succeeded:
    case S::cancelled:
      return false;
  }
  return false;
}

}  // namespace dr::state
