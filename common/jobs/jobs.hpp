#pragma once
// Jobs: long-running, journaled work of an agent (protect, failover, ...) on top of the state
// store's job table and step journal (state/state_store.hpp).
//
//   StepRunner steps(store, job_id, stop);
//   auto promoted = steps.run("promote:rbd/vm1", [&]() -> Result<nlohmann::json> { ... });
//
// StepRunner::run() is write-then-switch: a step already `done` is skipped and its recorded detail
// returned; otherwise the intent is recorded, the side effect runs, and its result (detail or
// error) is recorded. A step found with only its intent recorded (the agent died mid-step) is run
// again: every step must be idempotent, checking the world before acting.
//
// JobExecutor runs jobs on their own threads: start(id) moves a pending (or failed, to retry)
// job to running, runs the job's work, and records succeeded or failed with the error. At startup
// resume_unfinished() restarts every pending or running job, which is how a job cut off by
// kill -9 finishes. stop() asks running jobs to stop at their next step boundary (or inside a
// bounded wait that polls `stop_requested`) and joins them; a job stopped so stays `running` in
// the store and is resumed by the next start.
//
// StoreRestoreJournal adapts a job's steps to virt::RestoreJournal, so the restore workflow's
// steps appear in the job, prefixed ("restore/define-domain:app1-web1").
//
// Thread-safety: StepRunner belongs to one job; that job may run different steps on several
// threads at once (the DR agent promotes every image in parallel). JobExecutor's methods may be
// called from any thread.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include "core/result.hpp"
#include "state/state_store.hpp"
#include "virt/journal.hpp"

namespace dr::jobs {

// A Result holding `doc`. (Result<json> cannot be built from a json implicitly: in C++20 an
// Error is constructible from a json through its first member, so boost's converting
// constructor steps aside.)
inline Result<nlohmann::json> ok(nlohmann::json doc) {
  return Result<nlohmann::json>(boost::system::in_place_value, std::move(doc));
}

class StepRunner {
 public:
  StepRunner(state::StateStore& store, state::JobId job, std::stop_token stop = {});

  Result<nlohmann::json> run(std::string_view step,
                             const std::function<Result<nlohmann::json>()>& action);

  bool stop_requested() const noexcept { return stop_.stop_requested(); }
  std::stop_token stop_token() const noexcept { return stop_; }
  state::JobId job() const noexcept { return job_; }
  state::StateStore& store() noexcept { return store_; }

 private:
  state::StateStore& store_;
  state::JobId job_;
  std::stop_token stop_;
};

// Polls `done` every `period` until it returns a value, or an error (returned at once), or the
// deadline passes (deadline_exceeded naming `what`), or a stop is requested (aborted).
Result<nlohmann::json> poll_until(
    const std::function<Result<std::optional<nlohmann::json>>()>& done,
    std::chrono::steady_clock::duration timeout, std::chrono::milliseconds period,
    std::stop_token stop, std::string_view what);

class JobExecutor {
 public:
  // The work of one job. Returns the error that fails the job; aborted with a stop requested
  // leaves the job running (resumed on the next start).
  using Work = std::function<Status(const state::JobRecord&, StepRunner&)>;

  JobExecutor(state::StateStore& store, Work work, std::function<void(std::string_view)> log = {});
  ~JobExecutor();
  JobExecutor(const JobExecutor&) = delete;
  JobExecutor& operator=(const JobExecutor&) = delete;

  // Starts job `id` on its own thread unless it already runs in this process.
  void start(state::JobId id);
  // Starts every pending or running job of the store (at agent startup). Returns how many.
  Result<int> resume_unfinished();
  void stop();

 private:
  void execute(state::JobId id, std::stop_token stop);
  state::StateStore& store_;
  Work work_;
  std::function<void(std::string_view)> log_;
  std::mutex mutex_;
  std::map<state::JobId, std::jthread> threads_;
  bool stopping_ = false;
};

class StoreRestoreJournal final : public virt::RestoreJournal {
 public:
  StoreRestoreJournal(state::StateStore& store, state::JobId job, std::string prefix = "restore/");
  Result<std::optional<virt::JournalEntry>> find(std::string_view step) override;
  Status record_intent(std::string_view step) override;
  Status record_done(std::string_view step, std::string_view detail_json) override;
  Status record_failed(std::string_view step, const Error& error) override;
  Result<std::vector<virt::JournalEntry>> entries() override;
  // The store's journal is history: clearing is refused (failed_precondition).
  Status clear() override;

 private:
  std::string name(std::string_view step) const { return prefix_ + std::string(step); }
  state::StateStore& store_;
  state::JobId job_;
  std::string prefix_;
};

}  // namespace dr::jobs
