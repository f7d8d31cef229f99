// Journaled jobs (jobs/jobs.hpp) over the real SQLite state store, opened in memory: the step
// runner's write-then-switch, poll_until, the executor's job lifecycle and the restore journal
// adapter.
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

#include "state/sqlite_state_store.hpp"

using namespace dr::state;
using namespace std::chrono_literals;
using dr::Errc;
using dr::Error;
using dr::Result;
using dr::Status;
using dr::jobs::JobExecutor;
using dr::jobs::ok;
using dr::jobs::poll_until;
using dr::jobs::StepRunner;
using dr::jobs::StoreRestoreJournal;
using nlohmann::json;

namespace {

std::unique_ptr<StateStore> open_store() {
  auto store = SqliteStateStore::open(":memory:");
  REQUIRE(store);
  return std::move(*store);
}

JobRecord pending_job(StateStore& store, const std::string& app,
                      JobType type = JobType::failover_planned) {
  auto created = store.create_job(app, type, std::nullopt, "{}");
  REQUIRE(created);
  REQUIRE(created->created);
  REQUIRE(created->job.state == JobState::pending);
  return created->job;
}

JobRecord running_job(StateStore& store, const std::string& app) {
  const auto job = pending_job(store, app);
  auto running = store.set_job_state(job.id, JobState::running, std::nullopt);
  REQUIRE(running);
  return *running;
}

std::optional<JobStep> find_step(StateStore& store, JobId job, const std::string& name) {
  auto steps = store.steps(job);
  REQUIRE(steps);
  for (const auto& s : *steps) {
    if (s.name == name) return s;
  }
  return std::nullopt;
}

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

// ---- jobs::ok -----------------------------------------------------------------------------------

TEST_CASE("ok() builds a Result holding the json", "[jobs][ok]") {
  const json doc = {{"image", "rbd/vm1"}, {"promoted", true}};
  auto r = ok(doc);
  REQUIRE(r);
  CHECK(*r == doc);

  // A json that looks like an Error's first member is still a value, not an error.
  auto s = ok(json("not an error"));
  REQUIRE(s);
  CHECK(*s == json("not an error"));
}

// ---- StepRunner ---------------------------------------------------------------------------------

TEST_CASE("StepRunner runs a new step: intent, then done with the action's detail",
          "[jobs][steps]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  StepRunner steps(*store, job.id);
  CHECK(steps.job() == job.id);
  CHECK_FALSE(steps.stop_requested());

  std::optional<StepState> seen_during_action;
  auto r = steps.run("promote:rbd/vm1", [&]() -> Result<json> {
    // The intent is on disk before the side effect runs.
    auto s = find_step(*store, job.id, "promote:rbd/vm1");
    if (s) seen_during_action = s->state;
    return ok({{"promoted", "rbd/vm1"}});
  });
  REQUIRE(r);
  CHECK(*r == json{{"promoted", "rbd/vm1"}});
  REQUIRE(seen_during_action);
  CHECK(*seen_during_action == StepState::intent_recorded);

  auto s = find_step(*store, job.id, "promote:rbd/vm1");
  REQUIRE(s);
  CHECK(s->state == StepState::done);
  CHECK(s->attempts == 1);
  CHECK(json::parse(s->detail_json) == json{{"promoted", "rbd/vm1"}});
  CHECK_FALSE(s->error);
  auto after = store->get_job(job.id);
  REQUIRE(after);
  CHECK(after->current_step == "promote:rbd/vm1");
}

TEST_CASE("StepRunner skips a step already done and returns its recorded detail", "[jobs][steps]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  StepRunner steps(*store, job.id);
  REQUIRE(steps.run("define:app1-web1", [] { return ok({{"uuid", "u-1"}}); }));

  int calls = 0;
  auto again = steps.run("define:app1-web1", [&]() -> Result<json> {
    ++calls;
    return ok({{"uuid", "u-2"}});
  });
  REQUIRE(again);
  CHECK(calls == 0);
  CHECK(*again == json{{"uuid", "u-1"}});

  // A new runner on the same job (a resumed job) also skips it.
  StepRunner resumed(*store, job.id);
  auto third = resumed.run("define:app1-web1", [&]() -> Result<json> {
    ++calls;
    return ok({});
  });
  REQUIRE(third);
  CHECK(calls == 0);
  CHECK(*third == json{{"uuid", "u-1"}});
  auto s = find_step(*store, job.id, "define:app1-web1");
  REQUIRE(s);
  CHECK(s->state == StepState::done);
  CHECK(s->attempts == 1);
}

TEST_CASE("StepRunner records an action's error as the step's failure and returns it",
          "[jobs][steps]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  StepRunner steps(*store, job.id);

  auto r = steps.run("promote:rbd/vm1", []() -> Result<json> {
    return dr::fail(Errc::unavailable, "rbd image 'rbd/vm1': promote: cluster unreachable");
  });
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::unavailable);
  CHECK(r.error().message == "rbd image 'rbd/vm1': promote: cluster unreachable");

  auto s = find_step(*store, job.id, "promote:rbd/vm1");
  REQUIRE(s);
  CHECK(s->state == StepState::failed);
  REQUIRE(s->error);
  CHECK(s->error->code == Errc::unavailable);
  CHECK(s->error->message == "rbd image 'rbd/vm1': promote: cluster unreachable");

  // A failed step is retried by the next run, and may then succeed.
  int calls = 0;
  auto retry = steps.run("promote:rbd/vm1", [&]() -> Result<json> {
    ++calls;
    return ok({{"promoted", true}});
  });
  REQUIRE(retry);
  CHECK(calls == 1);
  s = find_step(*store, job.id, "promote:rbd/vm1");
  REQUIRE(s);
  CHECK(s->state == StepState::done);
  CHECK(s->attempts == 2);
}

TEST_CASE("StepRunner runs again a step whose intent was recorded but not its result",
          "[jobs][steps]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  // The agent died mid-step: the intent is on disk, no result.
  REQUIRE(store->record_step_intent(job.id, "promote:rbd/vm1"));

  StepRunner steps(*store, job.id);
  int calls = 0;
  auto r = steps.run("promote:rbd/vm1", [&]() -> Result<json> {
    ++calls;
    return ok({{"already_primary", true}});
  });
  REQUIRE(r);
  CHECK(calls == 1);
  CHECK(*r == json{{"already_primary", true}});
  auto s = find_step(*store, job.id, "promote:rbd/vm1");
  REQUIRE(s);
  CHECK(s->state == StepState::done);
  CHECK(s->attempts == 2);
  CHECK(json::parse(s->detail_json) == json{{"already_primary", true}});
}

TEST_CASE("StepRunner returns aborted without calling the action once a stop is requested",
          "[jobs][steps]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  std::stop_source stop;
  StepRunner steps(*store, job.id, stop.get_token());
  REQUIRE(steps.run("first", [] { return ok({}); }));

  stop.request_stop();
  CHECK(steps.stop_requested());
  bool called = false;
  auto r = steps.run("second", [&]() -> Result<json> {
    called = true;
    return ok({});
  });
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::aborted);
  CHECK_FALSE(called);
  // Nothing recorded for the step that did not start.
  CHECK_FALSE(find_step(*store, job.id, "second"));
}

TEST_CASE("StepRunner runs two different steps from two threads at once", "[jobs][steps]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  StepRunner steps(*store, job.id);

  // Each action waits (bounded) until both are inside their action: both steps are in flight at
  // the same time, as when the DR agent promotes every image in parallel.
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped[2] = {false, false};
  auto action = [&](int i, std::string image) {
    return [&, i, image]() -> Result<json> {
      ++inside;
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      while (inside.load() < 2 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
      }
      overlapped[i] = inside.load() == 2;
      return ok({{"image", image}});
    };
  };
  Result<json> results[2] = {dr::fail(Errc::internal, "not run"),
                             dr::fail(Errc::internal, "not run")};
  {
    std::jthread a([&] { results[0] = steps.run("promote:rbd/vm1", action(0, "rbd/vm1")); });
    std::jthread b([&] { results[1] = steps.run("promote:rbd/vm2", action(1, "rbd/vm2")); });
  }
  REQUIRE(results[0]);
  REQUIRE(results[1]);
  CHECK(*results[0] == json{{"image", "rbd/vm1"}});
  CHECK(*results[1] == json{{"image", "rbd/vm2"}});
  CHECK(overlapped[0]);
  CHECK(overlapped[1]);
  for (const char* name : {"promote:rbd/vm1", "promote:rbd/vm2"}) {
    auto s = find_step(*store, job.id, name);
    REQUIRE(s);
    CHECK(s->state == StepState::done);
    CHECK(s->attempts == 1);
  }
}

// ---- poll_until ---------------------------------------------------------------------------------

TEST_CASE("poll_until returns the value once the predicate yields one", "[jobs][poll]") {
  int calls = 0;
  auto r = poll_until(
      [&]() -> Result<std::optional<json>> {
        if (++calls < 3) return std::optional<json>();
        return std::optional<json>(json{{"state", "up+replaying"}});
      },
      10s, 1ms, {}, "mirror of rbd/vm1");
  REQUIRE(r);
  CHECK(*r == json{{"state", "up+replaying"}});
  CHECK(calls == 3);
}

TEST_CASE("poll_until gives up with deadline_exceeded naming what it waited for", "[jobs][poll]") {
  int calls = 0;
  const auto started = std::chrono::steady_clock::now();
  auto r = poll_until(
      [&]() -> Result<std::optional<json>> {
        ++calls;
        return std::optional<json>();
      },
      50ms, 5ms, {}, "mirror of rbd/vm1");
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::deadline_exceeded);
  CHECK_THAT(r.error().message, Catch::Contains("mirror of rbd/vm1"));
  CHECK(calls >= 2);
  CHECK(took >= 50ms);
  CHECK(took < 5s);
}

TEST_CASE("poll_until returns the predicate's error at once", "[jobs][poll]") {
  int calls = 0;
  const auto started = std::chrono::steady_clock::now();
  auto r = poll_until(
      [&]() -> Result<std::optional<json>> {
        ++calls;
        return dr::fail(Errc::not_found, "rbd image 'rbd/vm1' not found");
      },
      10s, 1ms, {}, "mirror of rbd/vm1");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::not_found);
  CHECK(r.error().message == "rbd image 'rbd/vm1' not found");
  CHECK(calls == 1);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE("poll_until ends with aborted when a stop is requested", "[jobs][poll]") {
  SECTION("requested before the call") {
    std::stop_source stop;
    stop.request_stop();
    auto r = poll_until([] { return Result<std::optional<json>>(std::optional<json>()); }, 30s, 1ms,
                        stop.get_token(), "mirror of rbd/vm1");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::aborted);
  }
  SECTION("requested while it waits") {
    std::stop_source stop;
    std::atomic<int> calls{0};
    const auto started = std::chrono::steady_clock::now();
    std::jthread stopper([&] {
      while (calls.load() < 2) std::this_thread::sleep_for(1ms);
      stop.request_stop();
    });
    auto r = poll_until(
        [&]() -> Result<std::optional<json>> {
          ++calls;
          return std::optional<json>();
        },
        30s, 2ms, stop.get_token(), "mirror of rbd/vm1");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::aborted);
    CHECK(std::chrono::steady_clock::now() - started < 10s);
  }
}

// ---- JobExecutor --------------------------------------------------------------------------------

TEST_CASE("JobExecutor runs a pending job to succeeded", "[jobs][executor]") {
  auto store = open_store();
  const auto job = pending_job(*store, "app1");
  std::atomic<int> calls{0};
  std::atomic<JobState> state_in_work{JobState::pending};
  std::atomic<JobId> id_in_work{0};
  std::atomic<JobId> steps_job{0};
  // No Catch2 assertions on the job's thread (Catch2 is not thread-safe): record, check after.
  JobExecutor executor(*store, [&](const JobRecord& j, StepRunner& steps) -> Status {
    ++calls;
    state_in_work = j.state;
    id_in_work = j.id;
    steps_job = steps.job();
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
  CHECK(steps_job.load() == job.id);
  auto s = find_step(*store, job.id, "only-step");
  REQUIRE(s);
  CHECK(s->state == StepState::done);
}

TEST_CASE("JobExecutor leaves a job failed with the error its work returns", "[jobs][executor]") {
  auto store = open_store();
  const auto job = pending_job(*store, "app1");
  JobExecutor executor(*store, [&](const JobRecord&, StepRunner& steps) -> Status {
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
      *store, [&](const JobRecord&, StepRunner&) -> Status { throw std::runtime_error("boom"); });
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
    JobExecutor first(*store, [&](const JobRecord&, StepRunner& steps) -> Status {
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
  JobExecutor second(*store, [&](const JobRecord&, StepRunner& steps) -> Status {
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
      [&](const JobRecord& j, StepRunner&) -> Status {
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
  JobExecutor executor(*store, [&](const JobRecord&, StepRunner&) -> Status {
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
  JobExecutor executor(*store, [&](const JobRecord&, StepRunner&) -> Status {
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
  JobExecutor executor(*store, [&](const JobRecord&, StepRunner&) -> Status {
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

// ---- StoreRestoreJournal ------------------------------------------------------------------------

TEST_CASE("StoreRestoreJournal records restore steps in the job, prefixed", "[jobs][journal]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  StoreRestoreJournal journal(*store, job.id);

  REQUIRE(journal.record_intent("define-domain:app1-web1"));
  auto s = find_step(*store, job.id, "restore/define-domain:app1-web1");
  REQUIRE(s);
  CHECK(s->state == StepState::intent_recorded);
  CHECK_FALSE(find_step(*store, job.id, "define-domain:app1-web1"));

  REQUIRE(journal.record_done("define-domain:app1-web1", R"({"uuid":"u-1"})"));
  s = find_step(*store, job.id, "restore/define-domain:app1-web1");
  REQUIRE(s);
  CHECK(s->state == StepState::done);
  CHECK(json::parse(s->detail_json) == json{{"uuid", "u-1"}});

  REQUIRE(journal.record_intent("start-domain:app1-web1"));
  REQUIRE(journal.record_failed("start-domain:app1-web1",
                                dr::fail(Errc::unavailable, "libvirt: connection lost")));
  s = find_step(*store, job.id, "restore/start-domain:app1-web1");
  REQUIRE(s);
  CHECK(s->state == StepState::failed);
  REQUIRE(s->error);
  CHECK(s->error->code == Errc::unavailable);
  CHECK(s->error->message == "libvirt: connection lost");

  REQUIRE(journal.record_intent("network:default"));
  REQUIRE(journal.record_done("network:default", ""));  // no detail: stored as {}
  s = find_step(*store, job.id, "restore/network:default");
  REQUIRE(s);
  CHECK(json::parse(s->detail_json) == json::object());
}

TEST_CASE("StoreRestoreJournal find() and entries() strip the prefix and ignore other steps",
          "[jobs][journal]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  StoreRestoreJournal journal(*store, job.id);

  // A step of the job that is not a restore step.
  REQUIRE(store->record_step_intent(job.id, "promote:rbd/vm1"));
  REQUIRE(store->record_step_done(job.id, "promote:rbd/vm1", "{}"));
  REQUIRE(journal.record_intent("define-domain:app1-web1"));
  REQUIRE(journal.record_done("define-domain:app1-web1", R"({"uuid":"u-1"})"));
  REQUIRE(journal.record_intent("start-domain:app1-web1"));
  REQUIRE(journal.record_failed("start-domain:app1-web1", dr::fail(Errc::internal, "x")));
  REQUIRE(journal.record_intent("start-domain:app1-db1"));

  auto entries = journal.entries();
  REQUIRE(entries);
  REQUIRE(entries->size() == 3);
  CHECK((*entries)[0].step == "define-domain:app1-web1");
  CHECK((*entries)[0].state == dr::virt::JournalState::done);
  CHECK(json::parse((*entries)[0].detail_json) == json{{"uuid", "u-1"}});
  CHECK((*entries)[0].attempts == 1);
  CHECK((*entries)[1].step == "start-domain:app1-web1");
  CHECK((*entries)[1].state == dr::virt::JournalState::failed);
  REQUIRE((*entries)[1].error);
  CHECK((*entries)[1].error->code == Errc::internal);
  CHECK((*entries)[2].step == "start-domain:app1-db1");
  CHECK((*entries)[2].state == dr::virt::JournalState::intent);

  auto found = journal.find("define-domain:app1-web1");
  REQUIRE(found);
  REQUIRE(*found);
  CHECK((*found)->step == "define-domain:app1-web1");
  CHECK((*found)->state == dr::virt::JournalState::done);

  auto other = journal.find("promote:rbd/vm1");  // not a restore step
  REQUIRE(other);
  CHECK_FALSE(*other);
  auto missing = journal.find("define-domain:app1-nope");
  REQUIRE(missing);
  CHECK_FALSE(*missing);

  // Another prefix sees only its own steps.
  StoreRestoreJournal drill(*store, job.id, "drill/");
  auto none = drill.entries();
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("StoreRestoreJournal refuses clear() with failed_precondition", "[jobs][journal]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  StoreRestoreJournal journal(*store, job.id);
  REQUIRE(journal.record_intent("define-domain:app1-web1"));
  REQUIRE(journal.record_done("define-domain:app1-web1", "{}"));

  auto r = journal.clear();
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::failed_precondition);
  auto entries = journal.entries();
  REQUIRE(entries);
  CHECK(entries->size() == 1);
}
