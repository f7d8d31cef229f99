#include "jobs/jobs.hpp"

#include <chrono>
#include <thread>
#include <vector>

namespace dr::jobs {

using nlohmann::json;

StepRunner::StepRunner(state::StateStore& store, state::JobId job, std::stop_token stop)
    : store_(store), job_(job), stop_(std::move(stop)) {}

Result<json> StepRunner::run(std::string_view step, const std::function<Result<json>()>& action) {
  if (stop_.stop_requested()) {
    return fail(Errc::aborted,
                "job " + std::to_string(job_) + " stopped before step '" + std::string(step) + "'");
  }
  auto intent = store_.record_step_intent(job_, step);
  if (!intent) {
    if (intent.error().code != Errc::already_exists) return intent.error();
    // Done in an earlier run: reuse what it recorded.
    auto steps = store_.steps(job_);
    if (!steps) return steps.error();
    for (const auto& s : *steps) {
      if (s.name == step) return ok(json::parse(s.detail_json, nullptr, false));
    }
    return fail(Errc::internal, "step '" + std::string(step) + "' of job " + std::to_string(job_) +
                                    " is done but not listed");
  }
  auto result = action();
  if (!result) {
    if (auto r = store_.record_step_failed(job_, step, result.error(), "{}"); !r) return r.error();
    return result.error();
  }
  const std::string detail = result->is_null() ? "{}" : result->dump();
  if (auto r = store_.record_step_done(job_, step, detail); !r) return r.error();
  return result;
}

Result<json> poll_until(const std::function<Result<std::optional<json>>()>& done,
                        std::chrono::steady_clock::duration timeout,
                        std::chrono::milliseconds period, std::stop_token stop,
                        std::string_view what) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto r = done();
    if (!r) return r.error();
    if (*r) return ok(std::move(**r));
    if (stop.stop_requested()) return fail(Errc::aborted, std::string(what) + ": stopped");
    if (std::chrono::steady_clock::now() >= deadline) {
      return fail(
          Errc::deadline_exceeded,
          std::string(what) + ": not done after " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
              " s");
    }
    std::this_thread::sleep_for(period);
  }
}

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
    return;
  }
  StepRunner steps(store_, id, stop);
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
  if (!result && result.error().code == Errc::aborted && stop.stop_requested()) {
    if (log_) log_("job " + std::to_string(id) + " stopped; it resumes at the next start");
    detach_self(threads_, id);
    return;
  }
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
  detach_self(threads_, id);
}

StoreRestoreJournal::StoreRestoreJournal(state::StateStore& store, state::JobId job,
                                         std::string prefix)
    : store_(store), job_(job), prefix_(std::move(prefix)) {}

namespace {
virt::JournalEntry to_entry(const state::JobStep& s, std::size_t prefix) {
  virt::JournalEntry e;
  e.step = s.name.substr(prefix);
  switch (s.state) {
    case state::StepState::intent_recorded:
      e.state = virt::JournalState::intent;
      break;
    case state::StepState::done:
      e.state = virt::JournalState::done;
      break;
    case state::StepState::failed:
      e.state = virt::JournalState::failed;
      break;
  }
  e.attempts = s.attempts;
  e.detail_json = s.detail_json;
  e.error = s.error;
  return e;
}
}  // namespace

Result<std::vector<virt::JournalEntry>> StoreRestoreJournal::entries() {
  auto steps = store_.steps(job_);
  if (!steps) return steps.error();
  std::vector<virt::JournalEntry> out;
  for (const auto& s : *steps) {
    if (s.name.starts_with(prefix_)) out.push_back(to_entry(s, prefix_.size()));
  }
  return out;
}

Result<std::optional<virt::JournalEntry>> StoreRestoreJournal::find(std::string_view step) {
  auto steps = store_.steps(job_);
  if (!steps) return steps.error();
  const std::string wanted = name(step);
  for (const auto& s : *steps) {
    if (s.name == wanted) return std::optional<virt::JournalEntry>(to_entry(s, prefix_.size()));
  }
  return std::optional<virt::JournalEntry>();
}

Status StoreRestoreJournal::record_intent(std::string_view step) {
  auto r = store_.record_step_intent(job_, name(step));
  if (!r) return r.error();
  return {};
}

Status StoreRestoreJournal::record_done(std::string_view step, std::string_view detail_json) {
  auto r = store_.record_step_done(job_, name(step), detail_json.empty() ? "{}" : detail_json);
  if (!r) return r.error();
  return {};
}

Status StoreRestoreJournal::record_failed(std::string_view step, const Error& error) {
  auto r = store_.record_step_failed(job_, name(step), error, "{}");
  if (!r) return r.error();
  return {};
}

Status StoreRestoreJournal::clear() {
  return fail(Errc::failed_precondition,
              "the restore steps of job " + std::to_string(job_) + " are history; not cleared");
}

}  // namespace dr::jobs
