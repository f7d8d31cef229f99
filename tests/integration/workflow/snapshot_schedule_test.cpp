// The snapshot schedule's rounds (workflow/snapshot_schedule.hpp) over the two-site mirroring
// model and the SQLite store: when one pair of an app is due, every snapshot-mode image of the
// app is snapshotted in the same round, at once; a failed snapshot does not hold back the others.

#include "workflow/snapshot_schedule.hpp"  // header under test first: proves it is self-contained

#include <catch2/catch.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../state/state_test_support.hpp"
#include "support/fault_mirror_storage.hpp"
#include "support/fault_plan.hpp"
#include "support/two_site_mirror.hpp"

namespace dr::workflow {
namespace {

using namespace std::chrono_literals;
using dr::testing::FaultMirrorStorage;
using dr::testing::FaultPlan;
using dr::testing::MirrorOp;
using dr::testing::TwoSiteMirror;

// app1 protected at site-a: three snapshot-mode images (intervals of 1 and 60 minutes) and one
// journal-mode image.
struct World {
  TwoSiteMirror mirror;
  std::shared_ptr<FaultPlan> plan = std::make_shared<FaultPlan>();
  FaultMirrorStorage site_a{"site-a", mirror.site_a(), plan};
  std::unique_ptr<state::StateStore> store = state::testing::open_or_fail(":memory:");
  std::vector<std::string> logged;
  std::mutex log_mutex;

  World() {
    REQUIRE(mirror.site_a().enable_pool_mirroring("rbd"));
    std::vector<state::MirrorPairRecord> pairs;
    for (const auto& [name, minutes] :
         std::vector<std::pair<std::string, int>>{{"web", 1}, {"db-root", 60}, {"db-data", 60}}) {
      const storage::ImageSpec image{"rbd", "app1-" + name};
      REQUIRE(mirror.site_a().create_image(image, 1 << 20));
      REQUIRE(mirror.site_a().enable_mirroring(image, storage::MirrorMode::snapshot));
      pairs.push_back({"app1",
                       {"rbd", image.image},
                       {"rbd", image.image},
                       state::MirrorMode::snapshot,
                       minutes,
                       {}});
    }
    pairs.push_back(
        {"app1", {"rbd", "app1-log"}, {"rbd", "app1-log"}, state::MirrorMode::journal, 1, {}});
    state::AppRecord app;
    app.id = "app1";
    app.role = state::AppRole::protected_source;
    app.state = state::AppState::protected_;
    app.peer_site = "site-b";
    REQUIRE(store->upsert_app(app));
    REQUIRE(store->replace_mirror_pairs("app1", pairs));
    mirror.clear_calls();
  }

  SnapshotSchedule schedule(int parallelism) {
    return SnapshotSchedule(*store, site_a, 0s, parallelism, [this](std::string_view line) {
      std::lock_guard lock(log_mutex);
      logged.emplace_back(line);
    });
  }
  std::vector<state::AppRecord> apps() {
    auto all = store->list_apps();
    REQUIRE(all);
    return *all;
  }
  std::size_t snapshots_of(const std::string& image) const {
    return mirror.count("site-a", MirrorOp::create_mirror_snapshot, "rbd/" + image);
  }
};

// Holds every create_mirror_snapshot until `n` of them have returned (or 10 s pass): only calls
// made at once can all get through without the wait running out.
struct Barrier {
  std::mutex mutex;
  std::condition_variable all_in;
  int in = 0;
  bool timed_out = false;

  void watch(FaultPlan& plan, int n) {
    plan.after_each([this, n](const std::string& what) {
      if (what.find("create_mirror_snapshot") == std::string::npos) return;
      std::unique_lock lock(mutex);
      ++in;
      all_in.notify_all();
      if (!all_in.wait_for(lock, 10s, [&] { return in >= n; })) timed_out = true;
    });
  }
};

TEST_CASE("a snapshot round takes every snapshot-mode image of the app at once, when one is due",
          "[integration][workflow][schedule]") {
  World w;
  Barrier barrier;
  barrier.watch(*w.plan, 3);
  auto schedule = w.schedule(4);

  schedule.run_due(w.apps(), &state::MirrorPairRecord::source);
  CHECK_FALSE(barrier.timed_out);  // the three were in flight together
  CHECK(w.snapshots_of("app1-web") == 1);
  CHECK(w.snapshots_of("app1-db-root") == 1);
  CHECK(w.snapshots_of("app1-db-data") == 1);
  CHECK(w.snapshots_of("app1-log") == 0);  // journal mode: rbd-mirror replays its journal
  CHECK(schedule.last("app1", "rbd/app1-db-data").has_value());
  CHECK_FALSE(schedule.last("app1", "rbd/app1-log").has_value());
  CHECK(w.logged.empty());

  SECTION("nothing is due again before the shortest interval has passed") {
    schedule.run_due(w.apps(), &state::MirrorPairRecord::source);
    CHECK(w.snapshots_of("app1-web") == 1);
  }
  SECTION("the 1-minute pair falling due brings the 60-minute pairs into its round") {
    schedule.note("app1", "rbd/app1-web", state::Timestamp{});  // taken long ago
    schedule.run_due(w.apps(), &state::MirrorPairRecord::source);
    CHECK(w.snapshots_of("app1-web") == 2);
    CHECK(w.snapshots_of("app1-db-root") == 2);
    CHECK(w.snapshots_of("app1-db-data") == 2);
  }
}

TEST_CASE("a snapshot that fails is logged; the others of its round are taken",
          "[integration][workflow][schedule]") {
  World w;
  w.plan->restart();
  w.plan->fail_at(2, dr::testing::FaultMode::before);
  auto schedule = w.schedule(1);  // one at a time: call 2 is the second image's

  schedule.run_due(w.apps(), &state::MirrorPairRecord::source);
  REQUIRE(w.logged.size() == 1);
  CHECK(w.logged[0].find("snapshot rbd/app1-db-root of app app1: injected fault") !=
        std::string::npos);
  CHECK(w.snapshots_of("app1-web") == 1);
  CHECK(w.snapshots_of("app1-db-data") == 1);
  // Tried again at the next round, not on every tick.
  schedule.run_due(w.apps(), &state::MirrorPairRecord::source);
  CHECK(w.logged.size() == 1);

  const auto round =
      schedule.take_round("app1", *w.store->mirror_pairs("app1"), &state::MirrorPairRecord::source);
  REQUIRE(round.size() == 3);
  CHECK(round[1].image == "rbd/app1-db-root");
  CHECK(round[1].snapshot);
  CHECK(w.snapshots_of("app1-db-root") == 1);
}

}  // namespace
}  // namespace dr::workflow
