// Jobs (jobs/jobs.hpp) over the real SQLite state store, opened in memory: the executor's job
// lifecycle (the step engine under it is tested in tests/integration/workflow/steps_test.cpp).
#include "jobs/jobs.hpp"  // header under test first: proves it is self-contained

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "../state/state_test_support.hpp"
#include "state/sqlite_state_store.hpp"

using namespace dr::state;
using namespace dr::state::testing;
using namespace std::chrono_literals;
using dr::Errc;
using dr::Error;
using dr::Result;
using dr::Status;
using dr::jobs::JobExecutor;
using dr::workflow::ok;
using dr::workflow::poll_until;
using dr::workflow::Steps;
using nlohmann::json;

namespace {

std::unique_ptr<StateStore> open_store() { return open_or_fail(":memory:"); }

// Waits (bounded) until `job` is in `state`; returns the record last read.
JobRecord wait_for_state(StateStore& store, JobId job, JobState state,
                         std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto r = store.get_job(job);
    REQUIRE(r);
    if (r->state == state || std::chrono::steady_clock::now() >= deadline) return *r;
    std::this_thread::sleep_for(5ms);
  }
}

// Waits (bounded) until `flag` is set; returns whether it was.
bool wait_for(const std::atomic<bool>& flag, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!flag.load()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

}  // namespace

// ---- JobExecutor --------------------------------------------------------------------------------

TEST_CASE("JobExecutor runs a pending job to succeeded", "[jobs][executor]") {
  auto store = open_store();
  const auto job = pending_job(*store, "app1");
  std::atomic<int> calls{0};
  std::atomic<JobState> state_in_work{JobState::pending};
  std::atomic<JobId> id_in_work{0};
  // No Catch2 assertions on the job's thread (Catch2 is not thread-safe): record, check after.
  JobExecutor executor(*store, [&](const JobRecord& j, Steps& steps) -> Status {
    ++calls;
    state_in_work = j.state;
    id_in_work = j.id;
    auto r = steps.run("only-step", [] { return ok({{"n", 1}}); });
    if (!r) return r.error();
    return {};
  });
  executor.start(job.id);
  const auto end = wait_for_state(*store, job.id, JobState::succeeded);
  CHECK(end.state == JobState::succeeded);
  CHECK_FALSE(end.error);
  CHECK(calls == 1);
  CHECK(state_in_work.load() == JobState::running);
  CHECK(id_in_work.load() == job.id);
  auto s = find_step(*store, job.id, "only-step");
  REQUIRE(s);
  CHECK(s->state == StepState::done);
}

TEST_CASE("JobExecutor leaves a job failed with the error its work returns", "[jobs][executor]") {
  auto store = open_store();
  const auto job = pending_job(*store, "app1");
  JobExecutor executor(*store, [&](const JobRecord&, Steps& steps) -> Status {
    auto r = steps.run("promote:rbd/vm1", []() -> Result<json> {
      return dr::fail(Errc::failed_precondition, "rbd image 'rbd/vm1' is primary on the peer");
    });
    if (!r) return r.error();
    return {};
  });
  executor.start(job.id);
  const auto end = wait_for_state(*store, job.id, JobState::failed);
  REQUIRE(end.state == JobState::failed);
  REQUIRE(end.error);
  CHECK(end.error->code == Errc::failed_precondition);
  CHECK(end.error->message == "rbd image 'rbd/vm1' is primary on the peer");
}

TEST_CASE("JobExecutor fails a job whose work throws with internal", "[jobs][executor]") {
  auto store = open_store();
  const auto job = pending_job(*store, "app1");
  JobExecutor executor(
      *store, [&](const JobRecord&, Steps&) -> Status { throw std::runtime_error("boom"); });
  executor.start(job.id);
  const auto end = wait_for_state(*store, job.id, JobState::failed);
  REQUIRE(end.state == JobState::failed);
  REQUIRE(end.error);
  CHECK(end.error->code == Errc::internal);
  CHECK_THAT(end.error->message, Catch::Contains("boom"));
}

TEST_CASE("JobExecutor leaves a stopped job running; the next executor resumes and finishes it",
          "[jobs][executor]") {
  auto store = open_store();
  const auto job = pending_job(*store, "app1");
  std::atomic<bool> waiting{false};
  {
    JobExecutor first(*store, [&](const JobRecord&, Steps& steps) -> Status {
      auto a = steps.run("a", [] { return ok({{"step", "a"}}); });
      if (!a) return a.error();
      // A bounded wait that polls the stop request (the mirror never syncs in this run).
      waiting = true;
      auto w = poll_until([] { return Result<std::optional<json>>(std::optional<json>()); }, 30s,
                          2ms, steps.stop_token(), "mirror of rbd/vm1");
      if (!w) return w.error();
      return {};
    });
    first.start(job.id);
    REQUIRE(wait_for(waiting));
    first.stop();  // joins
    auto mid = store->get_job(job.id);
    REQUIRE(mid);
    CHECK(mid->state == JobState::running);
    CHECK_FALSE(mid->error);
  }
  auto still = store->get_job(job.id);
  REQUIRE(still);
  CHECK(still->state == JobState::running);

  // The restarted agent: step "a" is done and skipped, the rest runs.
  std::atomic<int> a_calls{0};
  std::atomic<int> b_calls{0};
  JobExecutor second(*store, [&](const JobRecord&, Steps& steps) -> Status {
    auto a = steps.run("a", [&] {
      ++a_calls;
      return ok({});
    });
    if (!a) return a.error();
    auto b = steps.run("b", [&] {
      ++b_calls;
      return ok({});
    });
    if (!b) return b.error();
    return {};
  });
  auto resumed = second.resume_unfinished();
  REQUIRE(resumed);
  CHECK(*resumed == 1);
  const auto end = wait_for_state(*store, job.id, JobState::succeeded);
  CHECK(end.state == JobState::succeeded);
  CHECK(a_calls == 0);
  CHECK(b_calls == 1);
}

TEST_CASE("JobExecutor::resume_unfinished runs every pending and running job and counts them",
          "[jobs][executor]") {
  auto store = open_store();
  const auto pending = pending_job(*store, "app1");
  const auto running = running_job(*store, "app2");  // cut off by kill -9
  const auto succeeded = running_job(*store, "app3");
  REQUIRE(store->set_job_state(succeeded.id, JobState::succeeded, std::nullopt));
  const auto failed = running_job(*store, "app4");
  REQUIRE(store->set_job_state(failed.id, JobState::failed, dr::fail(Errc::internal, "earlier")));

  std::mutex mutex;
  std::multiset<JobId> ran;
  std::vector<std::string> log;
  JobExecutor executor(
      *store,
      [&](const JobRecord& j, Steps&) -> Status {
        std::lock_guard lock(mutex);
        ran.insert(j.id);
        return {};
      },
      [&](std::string_view line) {
        std::lock_guard lock(mutex);
        log.emplace_back(line);
      });
  auto count = executor.resume_unfinished();
  REQUIRE(count);
  CHECK(*count == 2);
  CHECK(wait_for_state(*store, pending.id, JobState::succeeded).state == JobState::succeeded);
  CHECK(wait_for_state(*store, running.id, JobState::succeeded).state == JobState::succeeded);
  executor.stop();

  std::lock_guard lock(mutex);
  CHECK(ran == std::multiset<JobId>{pending.id, running.id});
  auto f = store->get_job(failed.id);
  REQUIRE(f);
  CHECK(f->state == JobState::failed);
  auto s = store->get_job(succeeded.id);
  REQUIRE(s);
  CHECK(s->state == JobState::succeeded);
  CHECK_FALSE(log.empty());
}

TEST_CASE("JobExecutor::resume_unfinished with nothing unfinished returns 0", "[jobs][executor]") {
  auto store = open_store();
  std::atomic<int> calls{0};
  JobExecutor executor(*store, [&](const JobRecord&, Steps&) -> Status {
    ++calls;
    return {};
  });
  auto count = executor.resume_unfinished();
  REQUIRE(count);
  CHECK(*count == 0);
  executor.stop();
  CHECK(calls == 0);
}

TEST_CASE("JobExecutor does not start a job twice while it runs in this executor",
          "[jobs][executor]") {
  auto store = open_store();
  const auto job = pending_job(*store, "app1");
  std::atomic<int> calls{0};
  std::atomic<bool> release{false};
  JobExecutor executor(*store, [&](const JobRecord&, Steps&) -> Status {
    ++calls;
    wait_for(release);
    return dr::fail(Errc::unavailable, "peer unreachable");  // failed: a restart would rerun it
  });

  SECTION("started again while its work runs") {
    executor.start(job.id);
    REQUIRE(wait_for_state(*store, job.id, JobState::running).state == JobState::running);
    executor.start(job.id);
    REQUIRE(executor.resume_unfinished());  // lists the job: also a start
    release = true;
  }
  SECTION("started twice back to back, before its thread has marked it running") {
    // Release first: were the second start to wait for the first run, it must not deadlock.
    release = true;
    executor.start(job.id);
    executor.start(job.id);
  }
  const auto end = wait_for_state(*store, job.id, JobState::failed);
  CHECK(end.state == JobState::failed);
  executor.stop();
  CHECK(calls == 1);
}

TEST_CASE("JobExecutor retries a failed job on start", "[jobs][executor]") {
  auto store = open_store();
  const auto job = pending_job(*store, "app1");
  std::atomic<int> calls{0};
  JobExecutor executor(*store, [&](const JobRecord&, Steps&) -> Status {
    if (++calls == 1) return dr::fail(Errc::unavailable, "peer unreachable");
    return {};
  });
  executor.start(job.id);
  REQUIRE(wait_for_state(*store, job.id, JobState::failed).state == JobState::failed);
  executor.start(job.id);
  const auto end = wait_for_state(*store, job.id, JobState::succeeded);
  CHECK(end.state == JobState::succeeded);
  CHECK_FALSE(end.error);
  CHECK(calls == 2);
}


TEST_CASE("JobExecutor::cancel ends a running job for good: its thread stops and no step of it "
          "is recorded after",
          "[jobs][executor]") {
  auto store = open_store();
  const auto job = pending_job(*store, "app1");
  std::atomic<bool> waiting{false};
  std::atomic<bool> after_wait{false};
  Status last_step;
  JobExecutor executor(*store, [&](const JobRecord&, Steps& steps) -> Status {
    auto a = steps.run("a", [] { return ok({}); });
    if (!a) return a.error();
    waiting = true;
    // A step under way when the cancel comes: it ends (its wait sees the stop), and the step
    // after it cannot be recorded any more.
    auto w = steps.run("wait", [&]() -> Result<json> {
      auto r = poll_until([] { return Result<std::optional<json>>(std::optional<json>()); }, 30s,
                          2ms, steps.stop_token(), "a drill's copy");
      (void)r;
      return ok({});
    });
    after_wait = true;
    last_step = w ? Status() : Status(w.error());
    return last_step;
  });
  executor.start(job.id);
  REQUIRE(wait_for(waiting));
  REQUIRE(executor.cancel(job.id, dr::fail(Errc::aborted, "cancelled by a failover")));
  executor.wait_ended(job.id);
  CHECK(after_wait);
  REQUIRE_FALSE(last_step);  // its result could not be recorded: the job is over
  CHECK(last_step.error().code == Errc::failed_precondition);
  auto end = store->get_job(job.id);
  REQUIRE(end);
  CHECK(end->state == JobState::cancelled);
  REQUIRE(end->error);
  CHECK(end->error->message == "cancelled by a failover");
  // Cancelling again changes nothing; waiting returns at once.
  CHECK(executor.cancel(job.id, dr::fail(Errc::aborted, "again")));
  executor.wait_ended(job.id);
  executor.wait_ended(12345);  // never ran here
  // A job that succeeded stays so.
  const auto done = pending_job(*store, "app2");
  JobExecutor quick(*store, [](const JobRecord&, Steps&) -> Status { return {}; });
  quick.start(done.id);
  CHECK(wait_for_state(*store, done.id, JobState::succeeded).state == JobState::succeeded);
  quick.wait_ended(done.id);
  auto late = quick.cancel(done.id, dr::fail(Errc::aborted, "too late"));
  REQUIRE_FALSE(late);
  CHECK(late.error().code == Errc::failed_precondition);
}
