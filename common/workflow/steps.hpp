#pragma once
// The one step engine under every multi-step operation of drpair (protect, failover, the
// production side's hand-over, restore, ...): a journal of named steps per job, and a
// runner that keeps leveldb's write-then-switch rule.
//
//   Steps steps(journal, stop);
//   auto promoted = steps.run("promote:rbd/vm1", [&]() -> Result<nlohmann::json> { ... });
//
// Steps::run(name, action):
// @verbatim
//   find(name) --done--> skip: return the detail it recorded (the action does not run)
//       |
//       +--absent, intent or failed--> record_intent --> action() --ok--> record_done(detail)
//                                                             |
//                                                             +--error--> record_failed(error)
// @endverbatim
// A step found with only its intent recorded (the agent died mid-step) or failed (an earlier
// attempt) is run again: every action must be idempotent, checking the world before acting.
// Results pass as values (the step's JSON detail), never as text parsed back.
//
// A stop requested before a step starts aborts it (Errc::aborted, nothing recorded): the job
// stays unfinished and is resumed by the next start of the agent.
//
// Journals: StoreJournal (a job's steps in the agent's state store: the durable one),
// MemoryJournal (tests, one-shot runs), FileJournal (a JSON file: `drpair site restore
// --journal`, resumed by a second run). Steps::within(prefix) runs a sub-workflow's steps in
// the same journal under a prefix ("restore/define-domain:app1-web1").
//
// Thread-safety: journals may be used from several threads at once. A Steps object may run
// different steps on several threads at once (a job promotes its images in parallel); its
// timings() are then in completion order.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "state/state_store.hpp"

namespace dr::workflow {

struct StepRecord {
  std::string name;  // unique within the job: "define-domain:app1-web1"
  state::StepState state = state::StepState::intent_recorded;
  int attempts = 0;
  nlohmann::json detail = nlohmann::json::object();  // what the step did or found (done)
  std::optional<Error> error;                        // the last failure (failed)
};

class Journal {
 public:
  virtual ~Journal() = default;
  virtual Result<std::optional<StepRecord>> find(std::string_view step) = 0;
  // already_exists if the step is done (the caller skips it).
  virtual Status record_intent(std::string_view step) = 0;
  // failed_precondition unless the step's intent is recorded.
  virtual Status record_done(std::string_view step, const nlohmann::json& detail) = 0;
  virtual Status record_failed(std::string_view step, const Error& error) = 0;
  // Every step, in first-attempt order.
  virtual Result<std::vector<StepRecord>> entries() = 0;
};

// A job's steps in the state store (state/state_store.hpp's step journal).
class StoreJournal final : public Journal {
 public:
  StoreJournal(state::StateStore& store, state::JobId job) : store_(store), job_(job) {}
  Result<std::optional<StepRecord>> find(std::string_view step) override;
  Status record_intent(std::string_view step) override;
  Status record_done(std::string_view step, const nlohmann::json& detail) override;
  Status record_failed(std::string_view step, const Error& error) override;
  Result<std::vector<StepRecord>> entries() override;

 private:
  state::StateStore& store_;
  state::JobId job_;
};

class MemoryJournal : public Journal {
 public:
  Result<std::optional<StepRecord>> find(std::string_view step) override;
  Status record_intent(std::string_view step) override;
  Status record_done(std::string_view step, const nlohmann::json& detail) override;
  Status record_failed(std::string_view step, const Error& error) override;
  Result<std::vector<StepRecord>> entries() override;
  // Forgets every step (after a teardown undid what they did).
  Status clear();

 protected:
  // Called with the lock held after every change; FileJournal persists there.
  virtual Status persist(const std::vector<StepRecord>&) { return {}; }
  std::mutex mutex_;
  std::vector<StepRecord> entries_;

 private:
  StepRecord* locked_find(std::string_view step);
};

// A MemoryJournal mirrored to a JSON file, rewritten atomically (temporary file + rename) on
// every record. open() loads an existing file; unavailable if it cannot be read or written,
// invalid_argument if it is not a journal.
class FileJournal final : public MemoryJournal {
 public:
  static Result<std::unique_ptr<FileJournal>> open(std::string path);

 private:
  explicit FileJournal(std::string path) : path_(std::move(path)) {}
  Status persist(const std::vector<StepRecord>& entries) override;
  std::string path_;
};

// How long one run of a step took, and whether it was skipped (done in an earlier run). Names
// here are as the workflow gave them, without the prefix of within().
struct StepTiming {
  std::string name;
  std::chrono::milliseconds took{0};
  bool skipped = false;
};

// The first step that failed in this run, with its error.
struct StepFailure {
  std::string step;
  Error error;
};

class Steps {
 public:
  explicit Steps(Journal& journal, std::stop_token stop = {}, std::string prefix = {});

  Result<nlohmann::json> run(std::string_view step,
                             const std::function<Result<nlohmann::json>()>& action);

  // The same journal and stop token for a sub-workflow: its step names get `prefix` in front in
  // the journal; it keeps its own timings and failure.
  Steps within(std::string_view prefix) const;

  bool stop_requested() const noexcept { return stop_.stop_requested(); }
  std::stop_token stop_token() const noexcept { return stop_; }
  Journal& journal() const noexcept { return journal_; }

  std::vector<StepTiming> timings() const;
  std::optional<StepFailure> first_failure() const;

 private:
  struct Log;
  Steps(Journal& journal, std::stop_token stop, std::string prefix, std::shared_ptr<Log> log);
  Journal& journal_;
  std::stop_token stop_;
  std::string prefix_;
  std::shared_ptr<Log> log_;
};

// A Result holding `doc`. (Result<json> cannot be built from a json implicitly: an Error is
// constructible from a json through its first member, so boost's converting constructor steps
// aside.)
inline Result<nlohmann::json> ok(nlohmann::json doc = nlohmann::json::object()) {
  return Result<nlohmann::json>(boost::system::in_place_value, std::move(doc));
}

// Polls `done` every `period` until it returns a value, or an error (returned at once), or the
// deadline passes (deadline_exceeded naming `what`), or a stop is requested (aborted).
Result<nlohmann::json> poll_until(
    const std::function<Result<std::optional<nlohmann::json>>()>& done,
    std::chrono::steady_clock::duration timeout, std::chrono::milliseconds period,
    std::stop_token stop, std::string_view what);

}  // namespace dr::workflow
