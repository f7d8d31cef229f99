#include "jobs/jobs.hpp"

#include <thread>

namespace dr::jobs {

JobExecutor::JobExecutor(state::StateStore& store, Work work,
                         std::function<void(std::string_view)> log)
    : store_(store), work_(std::move(work)), log_(std::move(log)) {}

JobExecutor::~JobExecutor() { stop(); }

void JobExecutor::start(state::JobId id) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  // A job's thread detaches itself, under this lock, in the same step that records the job's end
  // (execute()): a joinable thread is a job still running here, whatever the store says yet (a
  // thread just started has not marked its job running), and a detached one is over.
  std::erase_if(threads_, [](const auto& entry) { return !entry.second.joinable(); });
  if (threads_.contains(id)) return;  // already running here
  threads_.emplace(id, std::jthread([this, id](std::stop_token stop) { execute(id, stop); }));
}

Result<int> JobExecutor::resume_unfinished() {
  auto jobs = store_.unfinished_jobs();
  if (!jobs) return jobs.error();
  for (const auto& job : *jobs) {
    if (log_)
      log_("resuming job " + std::to_string(job.id) + " (" + to_string(job.type) + " of app '" +
           job.app_id + "', step '" + job.current_step + "')");
    start(job.id);
  }
  return static_cast<int>(jobs->size());
}

void JobExecutor::stop() {
  std::map<state::JobId, std::jthread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  for (auto& [id, thread] : threads) thread.request_stop();
  threads.clear();  // joins
}

Status JobExecutor::cancel(state::JobId id, const Error& reason) {
  auto cancelled = store_.set_job_state(id, state::JobState::cancelled, reason);
  if (!cancelled) return cancelled.error();
  if (log_) log_("job " + std::to_string(id) + " cancelled: " + reason.message);
  std::lock_guard lock(mutex_);
  if (const auto it = threads_.find(id); it != threads_.end() && it->second.joinable()) {
    it->second.request_stop();
  }
  return {};
}

void JobExecutor::wait_ended(state::JobId id) {
  std::unique_lock lock(mutex_);
  ended_.wait(lock, [&] {
    const auto it = threads_.find(id);
    return it == threads_.end() || !it->second.joinable();
  });
}

namespace {
// Detaches the calling thread's entry of `threads` (the caller holds the executor's lock). After
// that the thread must not touch the executor: stop() no longer waits for it.
void detach_self(std::map<state::JobId, std::jthread>& threads, state::JobId id) {
  if (auto it = threads.find(id);
      it != threads.end() && it->second.get_id() == std::this_thread::get_id()) {
    it->second.detach();
  }
}
}  // namespace

void JobExecutor::execute(state::JobId id, std::stop_token stop) {
  auto job = store_.set_job_state(id, state::JobState::running, std::nullopt);
  if (!job) {
    std::lock_guard lock(mutex_);
    if (log_) log_("job " + std::to_string(id) + ": cannot start: " + job.error().message);
    detach_self(threads_, id);
    ended_.notify_all();
    return;
  }
  workflow::StoreJournal journal(store_, id);
  workflow::Steps steps(journal, stop);
  Status result = fail(Errc::internal, "job did not run");
  try {
    result = work_(*job, steps);
  } catch (const std::exception& e) {
    result = fail(Errc::internal, std::string("job threw: ") + e.what());
  } catch (...) {
    result = fail(Errc::internal, "job threw a non-standard exception");
  }
  // The end is recorded, logged and this thread detached under the lock, so start() never sees a
  // job that is over but whose thread still counts as running here (a retry it would drop), nor
  // a job whose thread is gone but whose end is not recorded (a second run it would start).
  std::lock_guard lock(mutex_);
  const auto now = store_.get_job(id);
  if (now && now->state == state::JobState::cancelled) {
    if (log_) log_("job " + std::to_string(id) + " ended after it was cancelled");
  } else if (!result && result.error().code == Errc::aborted && stop.stop_requested()) {
    if (log_) log_("job " + std::to_string(id) + " stopped; it resumes at the next start");
  } else {
    const auto to = result ? state::JobState::succeeded : state::JobState::failed;
    std::optional<Error> error;
    if (!result) error = result.error();
    if (auto r = store_.set_job_state(id, to, error); !r && log_) {
      log_("job " + std::to_string(id) + ": cannot record its end: " + r.error().message);
    }
    if (log_) {
      log_("job " + std::to_string(id) + " " + to_string(to) +
           (error ? ": " + std::string(to_string(error->code)) + ": " + error->message : ""));
    }
  }
  detach_self(threads_, id);
  ended_.notify_all();
}

}  // namespace dr::jobs
