// What survives a crash: a writer process killed with SIGKILL at several points, and a journaled
// job stopped after every one of its writes and side effects, then resumed.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "state/sqlite_state_store.hpp"
#include "state_test_support.hpp"

using namespace dr::state;
using dr::Errc;
using dr::Status;
using dr::state::testing::dump;
using dr::state::testing::integrity;
using dr::state::testing::open_or_fail;
using dr::state::testing::TempDir;

namespace {

// ---- kill -9 ------------------------------------------------------------------------------------

// A deterministic sequence of writes, as an agent makes them: per app, create it, store both
// descriptions, start a protect job, journal three steps, set its mirror pairs, mark it
// protected, finish the job. Operation n is always the same write.
constexpr int kOpsPerApp = 14;

Status apply_op(StateStore& store, int n) {
  const int i = n / kOpsPerApp;
  const std::string id = "app-" + std::to_string(i);
  const std::string key = "protect-" + std::to_string(i);
  auto job_id = [&]() -> dr::Result<JobId> {
    auto jobs = store.list_jobs(id);
    if (!jobs) return jobs.error();
    if (jobs->empty()) return dr::fail(Errc::not_found, "no job");
    return jobs->back().id;
  };
  const char* step_names[] = {"promote", "define", "start"};
  switch (const int k = n % kOpsPerApp) {
    case 0: {
      AppRecord a;
      a.id = id;
      a.state = AppState::protecting;
      a.generation = 1;
      a.peer_site = "site-a";
      auto r = store.upsert_app(a);
      if (!r) return r.error();
      return {};
    }
    case 1:
    case 2: {
      const auto kind = k == 1 ? DescriptionKind::first : DescriptionKind::second;
      auto r = store.put_description(id, kind, 1,
                                     R"({"app": ")" + id + R"(", "n": )" + std::to_string(n) + "}");
      if (!r) return r.error();
      return {};
    }
    case 3: {
      auto r = store.create_job(id, JobType::protect, key, R"({"op": )" + std::to_string(n) + "}");
      if (!r) return r.error();
      return {};
    }
    case 4:
    case 13: {
      auto j = job_id();
      if (!j) return j.error();
      auto r =
          store.set_job_state(*j, k == 4 ? JobState::running : JobState::succeeded, std::nullopt);
      if (!r) return r.error();
      return {};
    }
    case 11: {
      std::vector<MirrorPairRecord> pairs(3);
      for (int d = 0; d < 3; ++d) {
        pairs[d].source = {"rbd", id + "-disk" + std::to_string(d)};
        pairs[d].target = {"rbd-dr", id + "-disk" + std::to_string(d)};
      }
      return store.replace_mirror_pairs(id, pairs);
    }
    case 12: {
      auto a = store.get_app(id);
      if (!a) return a.error();
      a->state = AppState::protected_;
      auto r = store.upsert_app(*a);
      if (!r) return r.error();
      return {};
    }
    default: {  // 5..10: intent and result of three steps
      auto j = job_id();
      if (!j) return j.error();
      const char* step = step_names[(k - 5) / 2];
      if ((k - 5) % 2 == 0) {
        auto r = store.record_step_intent(*j, step);
        if (!r) return r.error();
        return {};
      }
      auto r = store.record_step_done(*j, step, R"({"op": )" + std::to_string(n) + "}");
      if (!r) return r.error();
      return {};
    }
  }
}

// The store's content after the first `count` operations, replayed in memory.
std::string expected_after(int count) {
  auto store = open_or_fail(":memory:");
  for (int n = 0; n < count; ++n) REQUIRE(apply_op(*store, n));
  return dump(*store);
}

// The child: writes operations forever, one byte on `report` after each has returned. It never
// returns into Catch2.
[[noreturn]] void writer_child(const std::string& path, int report) {
  auto store = SqliteStateStore::open(path);
  if (!store) _exit(2);
  for (int n = 0; n < 100000; ++n) {
    if (!apply_op(**store, n)) _exit(3);
    if (write(report, "+", 1) != 1) _exit(4);
  }
  _exit(0);
}

struct KillResult {
  int reported = 0;  // operations the child reported as returned before it died
  bool killed = false;
};

// Runs the writer against `path` and kills it with SIGKILL right after it reported `kill_after`
// operations: it is then in the middle of the next one (most of a call's time is its fsync).
KillResult run_and_kill(const std::string& path, int kill_after) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    writer_child(path, fds[1]);
  }
  close(fds[1]);
  KillResult result;
  char buf[64];
  while (result.reported < kill_after) {
    const ssize_t got = read(fds[0], buf, 1);
    if (got <= 0) break;  // the child died on its own: reported below
    ++result.reported;
  }
  kill(pid, SIGKILL);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  result.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  // Reports written between our last read and the kill are still in the pipe.
  for (ssize_t got; (got = read(fds[0], buf, sizeof buf)) > 0;) result.reported += int(got);
  close(fds[0]);
  return result;
}

// ---- the fault sweep ----------------------------------------------------------------------------

// The outside world a job acts on (libvirt, Ceph): which side effects happened, and how often the
// workflow invoked each one. Lives in the test process, so it survives a "restart" of the agent.
struct World {
  std::map<std::string, int> applied;  // effect → times it changed the world
  std::map<std::string, int> invoked;  // effect → times the workflow ran it
  // Idempotent, as every step must be: it checks before it acts (a VM already defined is left).
  void effect(const std::string& step) {
    ++invoked[step];
    if (applied[step] == 0) ++applied[step];
  }
};

const std::vector<std::string> kPlan = {"promote:rbd-dr/vm1-root", "add_portgroup:web",
                                        "define:app1-web1", "start:app1-web1"};

struct Crashed {};

// A failover workflow reduced to its journal: every store write and every side effect spends one
// unit of `budget`; when it runs out, the "agent" stops there (throws Crashed, caught below).
class FailoverRun {
 public:
  FailoverRun(StateStore& store, World& world, int budget)
      : store_(store), world_(world), budget_(budget) {}

  // The webhook arrives (or is retried after the crash): start or find the job, then drive it.
  void on_request() {
    spend();
    auto created =
        store_.create_job("app1", JobType::failover_planned, "alert-1", R"({"reason": "drill"})");
    REQUIRE(created);
    drive(created->job);
  }

  // Agent startup: resume every unfinished job.
  void on_startup() {
    auto jobs = store_.unfinished_jobs();
    REQUIRE(jobs);
    for (const auto& job : *jobs) drive(job);
  }

 private:
  void spend() {
    if (budget_-- <= 0) throw Crashed{};
  }

  void drive(JobRecord job) {
    if (job.state == JobState::succeeded) return;
    if (job.state == JobState::pending) {
      spend();
      REQUIRE(store_.set_job_state(job.id, JobState::running, std::nullopt));
    }
    auto steps = store_.steps(job.id);
    REQUIRE(steps);
    std::set<std::string> done;
    for (const auto& s : *steps) {
      if (s.state == StepState::done) done.insert(s.name);
    }
    for (const auto& step : kPlan) {
      if (done.count(step) != 0) continue;
      spend();
      auto intent = store_.record_step_intent(job.id, step);
      REQUIRE(intent);
      spend();
      world_.effect(step);
      spend();
      REQUIRE(store_.record_step_done(job.id, step, R"({"ok": true})"));
    }
    spend();
    REQUIRE(store_.set_job_state(job.id, JobState::succeeded, std::nullopt));
  }

  StateStore& store_;
  World& world_;
  int budget_;
};

}  // namespace

TEST_CASE("a writer killed with SIGKILL loses nothing it committed and leaves nothing half-done",
          "[integration][sqlite]") {
  // Kill points spread over the sequence: inside the first app, across app boundaries, and late.
  const int kill_points[] = {1, 4, 9, 14, 27, 40, 55, 83};
  for (const int kill_after : kill_points) {
    INFO("killed after " << kill_after << " operations");
    TempDir dir;
    const auto path = dir.file("state.db");
    const KillResult run = run_and_kill(path, kill_after);
    REQUIRE(run.killed);
    REQUIRE(run.reported >= kill_after);

    // The database recovers on open (the WAL holds every committed transaction) and is sound.
    auto store = open_or_fail(path);
    CHECK(integrity(path) == "ok");
    // Every reported operation is there, and at most one more (committed, killed before it
    // reported): never a part of one.
    const std::string actual = dump(*store);
    const std::string reported = expected_after(run.reported);
    const std::string one_more = expected_after(run.reported + 1);
    INFO("reported " << run.reported << "\n--- actual\n" << actual << "--- expected\n" << reported);
    CHECK((actual == reported || actual == one_more));
    // And it goes on: the next operation that was not committed applies cleanly.
    const int next = actual == reported ? run.reported : run.reported + 1;
    CHECK(apply_op(*store, next));
  }
}

TEST_CASE(
    "a journaled job stopped after any write or side effect resumes to the same end state "
    "and does no step twice",
    "[integration][sqlite]") {
  // create + running + 3 per step + succeeded: budget beyond that never runs out.
  const int total = 2 + 3 * static_cast<int>(kPlan.size()) + 1;
  for (int k = 0; k <= total; ++k) {
    INFO("stopped after " << k << " actions");
    TempDir dir;
    const auto path = dir.file("state.db");
    World world;
    {
      auto store = open_or_fail(path);
      FailoverRun first(*store, world, k);
      try {
        first.on_request();
      } catch (const Crashed&) {
      }
    }  // the store is closed: the agent is gone

    auto store = open_or_fail(path);
    FailoverRun second(*store, world, 1 << 30);
    second.on_startup();  // resumes the job if it was created
    second.on_request();  // the webhook is retried: finds the same job, never a second one

    auto jobs = store->list_jobs("app1");
    REQUIRE(jobs);
    REQUIRE(jobs->size() == 1);
    CHECK(jobs->front().state == JobState::succeeded);
    CHECK(jobs->front().current_step == kPlan.back());
    auto steps = store->steps(jobs->front().id);
    REQUIRE(steps);
    REQUIRE(steps->size() == kPlan.size());
    int retried = 0;
    for (std::size_t i = 0; i < kPlan.size(); ++i) {
      const auto& s = (*steps)[i];
      INFO(s.name);
      CHECK(s.name == kPlan[i]);
      CHECK(s.seq == static_cast<int>(i) + 1);
      CHECK(s.state == StepState::done);
      CHECK(world.applied[s.name] == 1);  // the world changed once per step
      // Only the step cut off after its intent is attempted again (and, if its effect had
      // happened, finds it done in the world); a step journaled as done is never run again.
      CHECK(world.invoked[s.name] >= 1);
      CHECK(world.invoked[s.name] <= s.attempts);
      retried += s.attempts - 1;
    }
    CHECK(retried <= 1);
    CHECK(integrity(path) == "ok");
  }
}
