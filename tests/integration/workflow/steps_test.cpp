// The step engine (workflow/steps.hpp) over the real SQLite state store, opened in memory (the
// durable journal of a job), and over the memory and file journals: write-then-switch, resume,
// stop, threads, prefixes, and poll_until.
#include "workflow/steps.hpp"  // header under test first: proves it is self-contained

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
using dr::workflow::ok;
using dr::workflow::poll_until;
using dr::workflow::Steps;
using dr::workflow::StoreJournal;
using nlohmann::json;

namespace {

std::unique_ptr<StateStore> open_store() { return open_or_fail(":memory:"); }

}  // namespace

// ---- ok -----------------------------------------------------------------------------------------

TEST_CASE("ok() builds a Result holding the json", "[workflow][ok]") {
  const json doc = {{"image", "rbd/vm1"}, {"promoted", true}};
  auto r = ok(doc);
  REQUIRE(r);
  CHECK(*r == doc);

  // A json that looks like an Error's first member is still a value, not an error.
  auto s = ok(json("not an error"));
  REQUIRE(s);
  CHECK(*s == json("not an error"));
}

// ---- Steps ------------------------------------------------------------------------------------

TEST_CASE("Steps runs a new step: intent, then done with the action's detail",
          "[workflow][steps]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  StoreJournal steps_journal(*store, job.id);
  Steps steps(steps_journal);
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

TEST_CASE("Steps skips a step already done and returns its recorded detail", "[workflow][steps]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  StoreJournal steps_journal(*store, job.id);
  Steps steps(steps_journal);
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
  StoreJournal resumed_journal(*store, job.id);
  Steps resumed(resumed_journal);
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

TEST_CASE("Steps records an action's error as the step's failure and returns it",
          "[workflow][steps]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  StoreJournal steps_journal(*store, job.id);
  Steps steps(steps_journal);

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

TEST_CASE("Steps runs again a step whose intent was recorded but not its result",
          "[workflow][steps]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  // The agent died mid-step: the intent is on disk, no result.
  REQUIRE(store->record_step_intent(job.id, "promote:rbd/vm1"));

  StoreJournal steps_journal(*store, job.id);
  Steps steps(steps_journal);
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

TEST_CASE("Steps returns aborted without calling the action once a stop is requested",
          "[workflow][steps]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  std::stop_source stop;
  StoreJournal steps_journal(*store, job.id);
  Steps steps(steps_journal, stop.get_token());
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

TEST_CASE("Steps runs two different steps from two threads at once", "[workflow][steps]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  StoreJournal steps_journal(*store, job.id);
  Steps steps(steps_journal);

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

TEST_CASE("poll_until returns the value once the predicate yields one", "[workflow][poll]") {
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

TEST_CASE("poll_until gives up with deadline_exceeded naming what it waited for", "[workflow][poll]") {
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

TEST_CASE("poll_until returns the predicate's error at once", "[workflow][poll]") {
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

TEST_CASE("poll_until ends with aborted when a stop is requested", "[workflow][poll]") {
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

// ---- journals -----------------------------------------------------------------------------------

TEST_CASE("a sub-workflow's steps are in the job's journal under its prefix", "[workflow][steps]") {
  auto store = open_store();
  const auto job = running_job(*store, "app1");
  StoreJournal journal(*store, job.id);
  Steps steps(journal);
  REQUIRE(steps.run("promote:rbd/vm1", [] { return ok(); }));
  Steps restore = steps.within("restore/");
  REQUIRE(restore.run("define-domain:app1-web1", [] { return ok({{"uuid", "u-1"}}); }));
  auto failed = restore.run("start-group:1", [] {
    return Result<json>(dr::fail(Errc::unavailable, "libvirt: connection lost"));
  });
  REQUIRE_FALSE(failed);

  auto s = find_step(*store, job.id, "restore/define-domain:app1-web1");
  REQUIRE(s);
  CHECK(s->state == StepState::done);
  CHECK(json::parse(s->detail_json) == json{{"uuid", "u-1"}});
  CHECK_FALSE(find_step(*store, job.id, "define-domain:app1-web1"));
  s = find_step(*store, job.id, "restore/start-group:1");
  REQUIRE(s);
  CHECK(s->state == StepState::failed);
  REQUIRE(s->error);
  CHECK(s->error->message == "libvirt: connection lost");

  // The sub-workflow keeps its own timings and failure, named as it named its steps.
  const auto timings = restore.timings();
  REQUIRE(timings.size() == 2);
  CHECK(timings[0].name == "define-domain:app1-web1");
  REQUIRE(restore.first_failure());
  CHECK(restore.first_failure()->step == "start-group:1");
  CHECK_FALSE(steps.first_failure());
  CHECK(steps.timings().size() == 1);

  auto entries = journal.entries();
  REQUIRE(entries);
  REQUIRE(entries->size() == 3);
  CHECK((*entries)[1].name == "restore/define-domain:app1-web1");
  CHECK((*entries)[1].detail == json{{"uuid", "u-1"}});
  CHECK((*entries)[2].state == StepState::failed);

  // Resumed: the done step is skipped, its detail reused; the failed one runs again.
  Steps resumed = Steps(journal).within("restore/");
  auto again = resumed.run("define-domain:app1-web1", []() -> Result<json> {
    FAIL("a done step ran again");
    return ok();
  });
  REQUIRE(again);
  CHECK(*again == json{{"uuid", "u-1"}});
  CHECK(resumed.timings()[0].skipped);
}

TEST_CASE("the memory journal keeps the store's rules", "[workflow][steps]") {
  dr::workflow::MemoryJournal journal;
  CHECK(journal.record_done("x", json::object()).error().code == Errc::failed_precondition);
  REQUIRE(journal.record_intent("x"));
  REQUIRE(journal.record_done("x", {{"n", 1}}));
  CHECK(journal.record_intent("x").error().code == Errc::already_exists);
  REQUIRE(journal.record_intent("y"));
  REQUIRE(journal.record_failed("y", dr::fail(Errc::internal, "boom")));
  REQUIRE(journal.record_intent("y"));  // a failed step is tried again
  auto y = journal.find("y");
  REQUIRE(y);
  REQUIRE(*y);
  CHECK((*y)->attempts == 2);
  CHECK((*y)->state == StepState::intent_recorded);
  REQUIRE(journal.clear());
  CHECK(journal.entries()->empty());
}
