#pragma once
// Jobs: an agent's long-running, journaled work (protect, failover, ...) on its own threads. The
// work of a job is a workflow (workflow/) run over the job's steps in the state store
// (workflow::StoreJournal), so a job cut off anywhere resumes where it was.
//
// JobExecutor runs jobs on their own threads: start(id) moves a pending (or failed, to retry)
// job to running, runs the job's work, and records succeeded or failed with the error. At startup
// resume_unfinished() restarts every pending or running job, which is how a job cut off by
// kill -9 finishes. stop() asks running jobs to stop at their next step boundary (or inside a
// bounded wait that polls `stop_requested`) and joins them; a job stopped so stays `running` in
// the store and is resumed by the next start. cancel() ends one job for good: the store records it
// cancelled first (from then on its steps cannot be recorded, so it does nothing more), then its
// thread is asked to stop; wait_ended() waits for that thread (a failover cancels a drill so).
//
// Thread-safety: JobExecutor's methods may be called from any thread.

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <string_view>
#include <thread>

#include "core/result.hpp"
#include "state/state_store.hpp"
#include "workflow/steps.hpp"

namespace dr::jobs {

class JobExecutor {
 public:
  // The work of one job. Returns the error that fails the job; aborted with a stop requested
  // leaves the job running (resumed on the next start).
  using Work = std::function<Status(const state::JobRecord&, workflow::Steps&)>;

  JobExecutor(state::StateStore& store, Work work, std::function<void(std::string_view)> log = {});
  ~JobExecutor();
  JobExecutor(const JobExecutor&) = delete;
  JobExecutor& operator=(const JobExecutor&) = delete;

  // Starts job `id` on its own thread unless it already runs in this process.
  void start(state::JobId id);
  // Starts every pending or running job of the store (at agent startup). Returns how many.
  Result<int> resume_unfinished();
  void stop();
  // Records job `id` cancelled with `reason` and asks its thread, when it runs here, to stop.
  // Cancelling a cancelled job changes nothing; failed_precondition if it succeeded; not_found if
  // there is no such job.
  Status cancel(state::JobId id, const Error& reason);
  // Returns when job `id` does not run here (at once if it never did). Not from the job itself.
  void wait_ended(state::JobId id);

 private:
  void execute(state::JobId id, std::stop_token stop);
  state::StateStore& store_;
  Work work_;
  std::function<void(std::string_view)> log_;
  std::mutex mutex_;
  std::condition_variable ended_;  // a job's thread detached itself
  std::map<state::JobId, std::jthread> threads_;
  bool stopping_ = false;
};

}  // namespace dr::jobs
