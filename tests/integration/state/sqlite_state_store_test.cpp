// The StateStore contract, operation by operation and error by error, on a real SQLite file.
#include "state/sqlite_state_store.hpp"  // header under test first: proves it is self-contained

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "state_test_support.hpp"

using namespace dr::state;
using namespace std::chrono_literals;
using dr::Errc;
using dr::state::testing::ManualClock;
using dr::state::testing::open_or_fail;
using dr::state::testing::RawDb;
using dr::state::testing::TempDir;

namespace {

AppRecord new_app(const std::string& id, AppState state = AppState::protecting) {
  AppRecord a;
  a.id = id;
  a.role = AppRole::registered_replica;
  a.state = state;
  a.generation = 1;
  a.peer_site = "site-a";
  return a;
}

MirrorPairRecord pair(const std::string& image, int interval = 1) {
  MirrorPairRecord p;
  p.source = {"rbd", image};
  p.target = {"rbd-dr", image};
  p.interval_minutes = interval;
  return p;
}

// A store on a fresh file with a manual clock; `store` outlives nothing but the folder.
struct Fixture {
  TempDir dir;
  ManualClock clock;
  std::unique_ptr<StateStore> store = open_or_fail(dir.file("state.db"), clock.options());

  AppRecord create(const std::string& id, AppState state = AppState::protecting) {
    auto a = store->upsert_app(new_app(id, state));
    REQUIRE(a);
    return *a;
  }
  JobRecord running_job(const std::string& app, JobType type = JobType::failover_planned) {
    auto j = store->create_job(app, type, std::nullopt, "{}");
    REQUIRE(j);
    auto r = store->set_job_state(j->job.id, JobState::running, std::nullopt);
    REQUIRE(r);
    return *r;
  }
};

}  // namespace

// ---- apps ---------------------------------------------------------------------------------------

TEST_CASE("an app is created at version 1 and reads back field by field", "[integration][sqlite]") {
  Fixture f;
  AppRecord in = new_app("app1");
  in.role = AppRole::protected_source;
  in.generation = 3;
  in.last_error = dr::fail(Errc::unavailable, "rbd image 'rbd/x': promote: timed out", 110);

  auto created = f.store->upsert_app(in);
  REQUIRE(created);
  CHECK(created->version == 1);
  CHECK(created->created_at == f.clock.now());
  CHECK(created->updated_at == f.clock.now());

  auto got = f.store->get_app("app1");
  REQUIRE(got);
  CHECK(got->id == "app1");
  CHECK(got->role == AppRole::protected_source);
  CHECK(got->state == AppState::protecting);
  CHECK(got->generation == 3);
  CHECK(got->peer_site == "site-a");
  REQUIRE(got->last_error);
  CHECK(got->last_error->code == Errc::unavailable);
  CHECK(got->last_error->message == "rbd image 'rbd/x': promote: timed out");
  CHECK(got->last_error->native == 0);  // not kept
}

TEST_CASE("creating an app whose id is taken is already_exists", "[integration][sqlite]") {
  Fixture f;
  f.create("app1");
  auto again = f.store->upsert_app(new_app("app1"));
  REQUIRE_FALSE(again);
  CHECK(again.error().code == Errc::already_exists);
  CHECK_THAT(again.error().message, Catch::Contains("app 'app1'"));
}

TEST_CASE("an update bumps the version, and an update from a stale version is aborted",
          "[integration][sqlite]") {
  Fixture f;
  AppRecord a = f.create("app1");
  f.clock.advance(5s);
  a.state = AppState::protected_;
  a.generation = 2;
  auto updated = f.store->upsert_app(a);
  REQUIRE(updated);
  CHECK(updated->version == 2);
  CHECK(updated->state == AppState::protected_);
  CHECK(updated->generation == 2);
  CHECK(updated->created_at == a.created_at);
  CHECK(updated->updated_at == a.created_at + 5s);

  // `a` still says version 1: another writer got there first.
  a.generation = 9;
  auto stale = f.store->upsert_app(a);
  REQUIRE_FALSE(stale);
  CHECK(stale.error().code == Errc::aborted);
  CHECK_THAT(stale.error().message, Catch::Contains("app 'app1'"));
  CHECK(f.store->get_app("app1")->generation == 2);
}

TEST_CASE("updating an app that was removed is not_found", "[integration][sqlite]") {
  Fixture f;
  AppRecord a = f.create("app1");
  REQUIRE(f.store->delete_app("app1", a.version));
  a.state = AppState::protected_;
  auto r = f.store->upsert_app(a);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::not_found);
}

TEST_CASE("an app state change the diagram forbids is failed_precondition",
          "[integration][sqlite]") {
  Fixture f;
  AppRecord a = f.create("app1", AppState::unprotected);
  a.state = AppState::failed_over;
  auto r = f.store->upsert_app(a);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::failed_precondition);
  CHECK_THAT(r.error().message, Catch::Contains("unprotected") && Catch::Contains("failed_over"));

  // The whole lifecycle is allowed (failover, reprotect, failback), and so is repair from failed.
  for (AppState next : {AppState::protecting, AppState::protected_, AppState::failing_over,
                        AppState::failed, AppState::failing_over, AppState::failed_over,
                        AppState::reprotecting, AppState::protected_reverse,
                        AppState::failing_back, AppState::protected_}) {
    a = *f.store->get_app("app1");
    a.state = next;
    INFO(to_string(next));
    REQUIRE(f.store->upsert_app(a));
  }
}

TEST_CASE("the transition tables follow the diagrams", "[integration][sqlite]") {
  CHECK(is_allowed_transition(AppState::protecting, AppState::failing_over));
  CHECK(is_allowed_transition(AppState::failed_over, AppState::protecting));
  CHECK(is_allowed_transition(AppState::failed, AppState::unprotected));
  CHECK_FALSE(is_allowed_transition(AppState::failing_over, AppState::protected_));
  CHECK_FALSE(is_allowed_transition(AppState::protected_, AppState::failed_over));
  // Failback only from a reprotected app; the production site's own shortcuts.
  CHECK_FALSE(is_allowed_transition(AppState::failed_over, AppState::failing_back));
  CHECK(is_allowed_transition(AppState::failed_over, AppState::protected_reverse));
  CHECK(is_allowed_transition(AppState::protected_reverse, AppState::protected_));
  CHECK_FALSE(is_allowed_transition(AppState::reprotecting, AppState::protected_));
  CHECK(is_away(AppState::protected_reverse));
  CHECK_FALSE(is_away(AppState::failed));
  CHECK(is_allowed_transition(JobState::failed, JobState::running));
  CHECK_FALSE(is_allowed_transition(JobState::succeeded, JobState::running));
  CHECK_FALSE(is_allowed_transition(JobState::cancelled, JobState::pending));
  CHECK_FALSE(is_allowed_transition(JobState::running, JobState::pending));
  CHECK(std::string(to_string(AppState::protected_)) == "protected");
  CHECK(*parse_app_state("protected") == AppState::protected_);
  CHECK(parse_job_type("nope").error().code == Errc::invalid_argument);
}

TEST_CASE("reading an unknown app is not_found; an empty app id is invalid_argument",
          "[integration][sqlite]") {
  Fixture f;
  auto missing = f.store->get_app("nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
  CHECK_THAT(missing.error().message, Catch::Contains("app 'nope'"));
  CHECK(f.store->upsert_app(new_app("")).error().code == Errc::invalid_argument);
  AppRecord negative = new_app("app1");
  negative.version = -1;
  CHECK(f.store->upsert_app(negative).error().code == Errc::invalid_argument);
}

TEST_CASE("apps are listed by id", "[integration][sqlite]") {
  Fixture f;
  f.create("b");
  f.create("a");
  f.create("c");
  auto apps = f.store->list_apps();
  REQUIRE(apps);
  REQUIRE(apps->size() == 3);
  CHECK((*apps)[0].id == "a");
  CHECK((*apps)[2].id == "c");
}

TEST_CASE("removing an app removes its descriptions and pairs and keeps its jobs",
          "[integration][sqlite]") {
  Fixture f;
  AppRecord a = f.create("app1");
  REQUIRE(f.store->put_description("app1", DescriptionKind::first, 1, "{}"));
  REQUIRE(f.store->replace_mirror_pairs("app1", {pair("vm1-root")}));
  JobRecord job = f.running_job("app1", JobType::protect);

  SECTION("not while a job is unfinished") {
    auto r = f.store->delete_app("app1", a.version);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::failed_precondition);
    CHECK_THAT(r.error().message, Catch::Contains("job " + std::to_string(job.id)));
  }
  SECTION("not from a stale version") {
    REQUIRE(f.store->set_job_state(job.id, JobState::succeeded, std::nullopt));
    auto r = f.store->delete_app("app1", a.version + 1);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::aborted);
  }
  SECTION("once the job is finished") {
    REQUIRE(f.store->set_job_state(job.id, JobState::succeeded, std::nullopt));
    REQUIRE(f.store->delete_app("app1", a.version));
    CHECK(f.store->get_app("app1").error().code == Errc::not_found);
    CHECK(f.store->get_description("app1", DescriptionKind::first, 1).error().code ==
          Errc::not_found);
    CHECK(f.store->mirror_pairs("app1").error().code == Errc::not_found);
    CHECK(f.store->list_jobs("app1")->size() == 1);
    RawDb raw(f.dir.file("state.db"));
    CHECK(raw.value("SELECT count(*) FROM descriptions") == "0");
    CHECK(raw.value("SELECT count(*) FROM mirror_pairs") == "0");
    CHECK(f.store->delete_app("app1", a.version).error().code == Errc::not_found);
  }
}

// ---- descriptions -------------------------------------------------------------------------------

TEST_CASE("every description version is kept, by kind and generation", "[integration][sqlite]") {
  Fixture f;
  f.create("app1");
  const std::string g1 = R"({"kind": "FirstDescription", "app": {"generation": 1}})";
  const std::string g2 = R"({"kind": "FirstDescription", "app": {"generation": 2}})";
  const std::string s1 = R"({"kind": "SecondDescription"})";
  auto stored = f.store->put_description("app1", DescriptionKind::first, 1, g1);
  REQUIRE(stored);
  CHECK(stored->json == g1);
  CHECK(stored->stored_at == f.clock.now());
  f.clock.advance(1s);
  REQUIRE(f.store->put_description("app1", DescriptionKind::first, 2, g2));
  REQUIRE(f.store->put_description("app1", DescriptionKind::second, 1, s1));

  auto first1 = f.store->get_description("app1", DescriptionKind::first, 1);
  REQUIRE(first1);
  CHECK(first1->json == g1);  // byte for byte, whitespace included
  auto latest = f.store->latest_description("app1", DescriptionKind::first);
  REQUIRE(latest);
  CHECK(latest->generation == 2);
  CHECK(latest->json == g2);
  CHECK(f.store->latest_description("app1", DescriptionKind::second)->json == s1);
  auto all = f.store->list_descriptions("app1", DescriptionKind::first);
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].generation == 1);
  CHECK((*all)[1].generation == 2);
}

TEST_CASE(
    "storing a description generation again is a no-op with the same text and "
    "already_exists with other text",
    "[integration][sqlite]") {
  Fixture f;
  f.create("app1");
  auto first = f.store->put_description("app1", DescriptionKind::second, 4, R"({"a": 1})");
  REQUIRE(first);
  f.clock.advance(1min);
  auto retried = f.store->put_description("app1", DescriptionKind::second, 4, R"({"a": 1})");
  REQUIRE(retried);
  CHECK(retried->stored_at == first->stored_at);
  auto other = f.store->put_description("app1", DescriptionKind::second, 4, R"({"a": 2})");
  REQUIRE_FALSE(other);
  CHECK(other.error().code == Errc::already_exists);
  CHECK_THAT(other.error().message,
             Catch::Contains("second description generation 4 of app 'app1'"));
}

TEST_CASE("description errors: unknown app, not JSON, negative generation, nothing stored",
          "[integration][sqlite]") {
  Fixture f;
  CHECK(f.store->put_description("nope", DescriptionKind::first, 1, "{}").error().code ==
        Errc::not_found);
  f.create("app1");
  auto bad = f.store->put_description("app1", DescriptionKind::first, 1, "{not json");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::invalid_argument);
  CHECK_THAT(bad.error().message, Catch::Contains("first description generation 1"));
  CHECK(f.store->put_description("app1", DescriptionKind::first, -1, "{}").error().code ==
        Errc::invalid_argument);
  CHECK(f.store->get_description("app1", DescriptionKind::first, 1).error().code ==
        Errc::not_found);
  auto none = f.store->latest_description("app1", DescriptionKind::second);
  REQUIRE_FALSE(none);
  CHECK(none.error().code == Errc::not_found);
  CHECK_THAT(none.error().message, Catch::Contains("app 'app1' has no second description"));
  CHECK(f.store->list_descriptions("app1", DescriptionKind::first)->empty());
  CHECK(f.store->list_descriptions("nope", DescriptionKind::first).error().code == Errc::not_found);
}

// ---- mirror pairs -------------------------------------------------------------------------------

TEST_CASE("replacing mirror pairs keeps the status of kept pairs only", "[integration][sqlite]") {
  Fixture f;
  f.create("app1");
  REQUIRE(f.store->replace_mirror_pairs("app1", {pair("web-root"), pair("db-root")}));
  MirrorStatus status;
  status.text = "up+replaying";
  status.last_sync_at = f.clock.now() - 30s;
  status.lag_seconds = 30;
  REQUIRE(f.store->update_mirror_status("app1", {"rbd", "web-root"}, status));
  REQUIRE(f.store->update_mirror_status("app1", {"rbd", "db-root"}, status));

  // Generation 2: web-root stays, db-root moves to another target, a new disk appears.
  MirrorPairRecord moved = pair("db-root");
  moved.target = {"rbd-dr2", "db-root"};
  MirrorPairRecord added = pair("db-data", 5);
  added.mode = MirrorMode::journal;
  REQUIRE(f.store->replace_mirror_pairs("app1", {pair("web-root"), moved, added}));

  auto pairs = f.store->mirror_pairs("app1");
  REQUIRE(pairs);
  REQUIRE(pairs->size() == 3);  // ordered by source image
  const auto& data = (*pairs)[0];
  const auto& db = (*pairs)[1];
  const auto& web = (*pairs)[2];
  CHECK(data.source.image == "db-data");
  CHECK(data.mode == MirrorMode::journal);
  CHECK(data.interval_minutes == 5);
  CHECK(data.status.text.empty());
  CHECK(db.target.pool == "rbd-dr2");
  CHECK(db.status.text.empty());
  CHECK_FALSE(db.status.checked_at);
  CHECK(web.app_id == "app1");
  CHECK(web.status.text == "up+replaying");
  CHECK(web.status.last_sync_at == f.clock.now() - 30s);
  CHECK(web.status.lag_seconds == 30);
  CHECK(web.status.checked_at == f.clock.now());

  REQUIRE(f.store->replace_mirror_pairs("app1", {}));
  CHECK(f.store->mirror_pairs("app1")->empty());
}

TEST_CASE("mirror pair errors name the pair", "[integration][sqlite]") {
  Fixture f;
  CHECK(f.store->replace_mirror_pairs("nope", {pair("a")}).error().code == Errc::not_found);
  CHECK(f.store->mirror_pairs("nope").error().code == Errc::not_found);
  f.create("app1");
  REQUIRE(f.store->replace_mirror_pairs("app1", {pair("a")}));

  auto unknown = f.store->update_mirror_status("app1", {"rbd", "zzz"}, {});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == Errc::not_found);
  CHECK_THAT(unknown.error().message, Catch::Contains("rbd/zzz") && Catch::Contains("app1"));

  MirrorPairRecord same_target = pair("b");
  same_target.target = pair("a").target;
  CHECK(f.store->replace_mirror_pairs("app1", {pair("a"), pair("a")}).error().code ==
        Errc::invalid_argument);
  CHECK(f.store->replace_mirror_pairs("app1", {pair("a"), same_target}).error().code ==
        Errc::invalid_argument);
  CHECK(f.store->replace_mirror_pairs("app1", {pair("")}).error().code == Errc::invalid_argument);
  CHECK(f.store->replace_mirror_pairs("app1", {pair("c", 0)}).error().code ==
        Errc::invalid_argument);
  CHECK(f.store->mirror_pairs("app1")->size() == 1);  // the failed calls changed nothing
}

// ---- jobs ---------------------------------------------------------------------------------------

TEST_CASE("the same request twice starts one job", "[integration][sqlite]") {
  Fixture f;
  auto first = f.store->create_job("app1", JobType::failover_disaster, "alert-123",
                                   R"({"reason": "site-a down"})");
  REQUIRE(first);
  CHECK(first->created);
  CHECK(first->job.state == JobState::pending);
  CHECK(first->job.idempotency_key == "alert-123");
  CHECK(first->job.request_json == R"({"reason": "site-a down"})");
  CHECK(first->job.created_at == f.clock.now());

  // A retried webhook: same key, timestamps in the body differ. The first request wins.
  f.clock.advance(1s);
  auto again = f.store->create_job("app1", JobType::failover_disaster, "alert-123",
                                   R"({"reason": "site-a down", "retry": 2})");
  REQUIRE(again);
  CHECK_FALSE(again->created);
  CHECK(again->job.id == first->job.id);
  CHECK(again->job.request_json == R"({"reason": "site-a down"})");

  // And once the job has finished, the key still names it: no second failover.
  REQUIRE(f.store->set_job_state(first->job.id, JobState::running, std::nullopt));
  REQUIRE(f.store->set_job_state(first->job.id, JobState::succeeded, std::nullopt));
  auto late = f.store->create_job("app1", JobType::failover_disaster, "alert-123", "{}");
  REQUIRE(late);
  CHECK_FALSE(late->created);
  CHECK(late->job.state == JobState::succeeded);
  CHECK(f.store->list_jobs("app1")->size() == 1);
}

TEST_CASE("an idempotency key used for another app or job type is already_exists",
          "[integration][sqlite]") {
  Fixture f;
  REQUIRE(f.store->create_job("app1", JobType::drill, "k1", "{}"));
  auto other_app = f.store->create_job("app2", JobType::drill, "k1", "{}");
  REQUIRE_FALSE(other_app);
  CHECK(other_app.error().code == Errc::already_exists);
  CHECK_THAT(other_app.error().message, Catch::Contains("'k1'") && Catch::Contains("app 'app1'"));
  CHECK(f.store->create_job("app1", JobType::restore, "k1", "{}").error().code ==
        Errc::already_exists);
}

TEST_CASE("two jobs never drive one app at once", "[integration][sqlite]") {
  Fixture f;
  auto first = f.store->create_job("app1", JobType::failover_planned, std::nullopt, "{}");
  REQUIRE(first);
  auto second = f.store->create_job("app1", JobType::drill, "other-key", "{}");
  REQUIRE_FALSE(second);
  CHECK(second.error().code == Errc::failed_precondition);
  CHECK_THAT(second.error().message, Catch::Contains("job " + std::to_string(first->job.id)));
  // Another app is independent.
  REQUIRE(f.store->create_job("app2", JobType::drill, std::nullopt, "{}"));

  // A failed job resumed while a newer job owns the app is refused too.
  REQUIRE(f.store->set_job_state(first->job.id, JobState::failed,
                                 dr::fail(Errc::unavailable, "libvirt down")));
  auto third = f.store->create_job("app1", JobType::failover_planned, std::nullopt, "{}");
  REQUIRE(third);
  auto resume = f.store->set_job_state(first->job.id, JobState::running, std::nullopt);
  REQUIRE_FALSE(resume);
  CHECK(resume.error().code == Errc::failed_precondition);
}

TEST_CASE("create_job rejects an empty app, an empty key and a request that is not JSON",
          "[integration][sqlite]") {
  Fixture f;
  CHECK(f.store->create_job("", JobType::protect, std::nullopt, "{}").error().code ==
        Errc::invalid_argument);
  CHECK(f.store->create_job("app1", JobType::protect, "", "{}").error().code ==
        Errc::invalid_argument);
  auto bad = f.store->create_job("app1", JobType::protect, "k", "not json");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::invalid_argument);
  CHECK(f.store->unfinished_jobs()->empty());
  // The key was not spent by the failed call.
  auto good = f.store->create_job("app1", JobType::protect, "k", "{}");
  REQUIRE(good);
  CHECK(good->created);
}

TEST_CASE("job states follow the diagram and keep the failure", "[integration][sqlite]") {
  Fixture f;
  auto created = f.store->create_job("app1", JobType::restore, std::nullopt, "{}");
  REQUIRE(created);
  const JobId id = created->job.id;

  auto done = f.store->set_job_state(id, JobState::succeeded, std::nullopt);
  REQUIRE_FALSE(done);  // pending cannot succeed without running
  CHECK(done.error().code == Errc::failed_precondition);

  REQUIRE(f.store->set_job_state(id, JobState::running, std::nullopt));
  CHECK(f.store->set_job_state(id, JobState::running, std::nullopt));  // staying is a no-op
  f.clock.advance(2s);
  auto failed = f.store->set_job_state(
      id, JobState::failed, dr::fail(Errc::unavailable, "domain 'app1-web1': define: busy"));
  REQUIRE(failed);
  CHECK(failed->updated_at == created->job.created_at + 2s);
  REQUIRE(failed->error);
  CHECK(failed->error->code == Errc::unavailable);
  CHECK(failed->error->message == "domain 'app1-web1': define: busy");

  auto resumed = f.store->set_job_state(id, JobState::running, std::nullopt);
  REQUIRE(resumed);
  CHECK_FALSE(resumed->error);
  REQUIRE(f.store->set_job_state(id, JobState::succeeded, std::nullopt));
  auto after = f.store->set_job_state(id, JobState::running, std::nullopt);
  REQUIRE_FALSE(after);
  CHECK(after.error().code == Errc::failed_precondition);
  CHECK_THAT(after.error().message, Catch::Contains("job " + std::to_string(id)));

  CHECK(f.store->set_job_state(9999, JobState::running, std::nullopt).error().code ==
        Errc::not_found);
  CHECK(f.store->get_job(9999).error().code == Errc::not_found);
}

TEST_CASE("unfinished jobs are the pending and running ones, oldest first",
          "[integration][sqlite]") {
  Fixture f;
  auto a = f.store->create_job("a", JobType::protect, std::nullopt, "{}");
  auto b = f.store->create_job("b", JobType::protect, std::nullopt, "{}");
  auto c = f.store->create_job("c", JobType::protect, std::nullopt, "{}");
  auto d = f.store->create_job("d", JobType::protect, std::nullopt, "{}");
  REQUIRE((a && b && c && d));
  REQUIRE(f.store->set_job_state(b->job.id, JobState::running, std::nullopt));
  REQUIRE(f.store->set_job_state(c->job.id, JobState::cancelled, std::nullopt));
  REQUIRE(f.store->set_job_state(d->job.id, JobState::failed, std::nullopt));
  auto unfinished = f.store->unfinished_jobs();
  REQUIRE(unfinished);
  REQUIRE(unfinished->size() == 2);
  CHECK((*unfinished)[0].id == a->job.id);
  CHECK((*unfinished)[1].id == b->job.id);
  CHECK((*unfinished)[1].state == JobState::running);
  auto of_c = f.store->list_jobs("c");
  REQUIRE(of_c);
  REQUIRE(of_c->size() == 1);
  CHECK(of_c->front().state == JobState::cancelled);
  CHECK(f.store->list_jobs("nope")->empty());
}

// ---- the step journal ---------------------------------------------------------------------------

TEST_CASE("a step records its intent before and its result after", "[integration][sqlite]") {
  Fixture f;
  JobRecord job = f.running_job("app1");
  auto intent = f.store->record_step_intent(job.id, "promote:rbd-dr/vm1-root");
  REQUIRE(intent);
  CHECK(intent->seq == 1);
  CHECK(intent->attempts == 1);
  CHECK(intent->state == StepState::intent_recorded);
  CHECK_FALSE(intent->finished_at);
  CHECK(f.store->get_job(job.id)->current_step == "promote:rbd-dr/vm1-root");

  f.clock.advance(1500ms);
  auto done = f.store->record_step_done(job.id, "promote:rbd-dr/vm1-root", R"({"primary": true})");
  REQUIRE(done);
  CHECK(done->state == StepState::done);
  CHECK(done->duration_ms == 1500);
  CHECK(done->detail_json == R"({"primary": true})");

  REQUIRE(f.store->record_step_intent(job.id, "define:app1-web1"));
  auto failed = f.store->record_step_failed(
      job.id, "define:app1-web1", dr::fail(Errc::invalid_argument, "bad XML"), R"({"xml": 1})");
  REQUIRE(failed);
  CHECK(failed->state == StepState::failed);
  REQUIRE(failed->error);
  CHECK(failed->error->code == Errc::invalid_argument);

  // Retry of the failed step: the same entry, a second attempt, the error cleared.
  f.clock.advance(1s);
  auto retry = f.store->record_step_intent(job.id, "define:app1-web1");
  REQUIRE(retry);
  CHECK(retry->seq == 2);
  CHECK(retry->attempts == 2);
  CHECK(retry->started_at == f.clock.now());
  CHECK_FALSE(retry->error);
  CHECK_FALSE(retry->finished_at);

  auto steps = f.store->steps(job.id);
  REQUIRE(steps);
  REQUIRE(steps->size() == 2);
  CHECK((*steps)[0].name == "promote:rbd-dr/vm1-root");
  CHECK((*steps)[1].name == "define:app1-web1");
  CHECK(f.store->get_job(job.id)->current_step == "define:app1-web1");
}

TEST_CASE("an intent recorded again after a crash is the same step, another attempt",
          "[integration][sqlite]") {
  Fixture f;
  JobRecord job = f.running_job("app1");
  REQUIRE(f.store->record_step_intent(job.id, "start:app1-web1"));
  auto again = f.store->record_step_intent(job.id, "start:app1-web1");
  REQUIRE(again);
  CHECK(again->seq == 1);
  CHECK(again->attempts == 2);
  CHECK(f.store->steps(job.id)->size() == 1);
}

TEST_CASE("a step is never done twice", "[integration][sqlite]") {
  Fixture f;
  JobRecord job = f.running_job("app1");
  REQUIRE(f.store->record_step_intent(job.id, "s"));
  REQUIRE(f.store->record_step_done(job.id, "s", "{}"));

  auto intent = f.store->record_step_intent(job.id, "s");
  REQUIRE_FALSE(intent);
  CHECK(intent.error().code == Errc::already_exists);
  CHECK_THAT(intent.error().message, Catch::Contains("step 's' of job " + std::to_string(job.id)));
  auto done = f.store->record_step_done(job.id, "s", "{}");
  REQUIRE_FALSE(done);
  CHECK(done.error().code == Errc::failed_precondition);
  CHECK(
      f.store->record_step_failed(job.id, "s", dr::fail(Errc::internal, "x"), "{}").error().code ==
      Errc::failed_precondition);
  CHECK(f.store->steps(job.id)->front().attempts == 1);
}

TEST_CASE("step journal errors: no intent, job not running, unknown job, detail not JSON",
          "[integration][sqlite]") {
  Fixture f;
  JobRecord job = f.running_job("app1");
  auto no_intent = f.store->record_step_done(job.id, "never", "{}");
  REQUIRE_FALSE(no_intent);
  CHECK(no_intent.error().code == Errc::not_found);
  CHECK(f.store->record_step_intent(job.id, "").error().code == Errc::invalid_argument);

  REQUIRE(f.store->record_step_intent(job.id, "s"));
  CHECK(f.store->record_step_done(job.id, "s", "{oops").error().code == Errc::invalid_argument);
  CHECK(f.store->steps(job.id)->front().state == StepState::intent_recorded);

  auto pending = f.store->create_job("app2", JobType::protect, std::nullopt, "{}");
  REQUIRE(pending);
  auto not_running = f.store->record_step_intent(pending->job.id, "s");
  REQUIRE_FALSE(not_running);
  CHECK(not_running.error().code == Errc::failed_precondition);
  CHECK_THAT(not_running.error().message, Catch::Contains("pending"));

  REQUIRE(f.store->set_job_state(job.id, JobState::cancelled, std::nullopt));
  CHECK(f.store->record_step_done(job.id, "s", "{}").error().code == Errc::failed_precondition);

  CHECK(f.store->record_step_intent(4242, "s").error().code == Errc::not_found);
  CHECK(f.store->steps(4242).error().code == Errc::not_found);
}

// ---- webhooks -----------------------------------------------------------------------------------

TEST_CASE("a webhook key is new once until it expires", "[integration][sqlite]") {
  Fixture f;
  CHECK(*f.store->remember_webhook("delivery-1", 10min) == true);
  CHECK(*f.store->remember_webhook("delivery-1", 10min) == false);
  CHECK(*f.store->remember_webhook("delivery-2", 1min) == true);
  f.clock.advance(2min);
  CHECK(*f.store->purge_expired_webhooks() == 1);  // delivery-2
  CHECK(*f.store->remember_webhook("delivery-1", 10min) == false);
  f.clock.advance(9min);
  CHECK(*f.store->remember_webhook("delivery-1", 10min) == true);  // expired: a new delivery
  CHECK(*f.store->purge_expired_webhooks() == 0);

  CHECK(f.store->remember_webhook("", 1min).error().code == Errc::invalid_argument);
  CHECK(f.store->remember_webhook("k", 0s).error().code == Errc::invalid_argument);
}

// ---- audit --------------------------------------------------------------------------------------

TEST_CASE("the audit trail is read newest first, paged, and purged by age", "[integration][sqlite]") {
  Fixture f;
  auto record = [&](const std::string& path, int status, std::optional<JobId> job = {}) {
    AuditRecord r;
    r.at = f.clock.now();
    r.caller_kind = "operator";
    r.caller = "ops";
    r.method = "POST";
    r.path = path;
    r.status = status;
    r.job_id = job;
    r.message = status >= 400 ? "refused" : "";
    auto id = f.store->append_audit(r);
    REQUIRE(id);
    return *id;
  };
  const auto first = record("/v1/apps/app1/failover", 202, 7);
  f.clock.advance(2h);
  record("/v1/apps/app1/failover", 403);
  const auto third = record("/v1/hooks/failover", 401);

  auto all = f.store->list_audit(10);
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  CHECK(all->front().id == third);  // newest first
  CHECK(all->back().id == first);
  CHECK(all->back().job_id == std::optional<JobId>(7));
  CHECK(all->back().at == f.clock.now() - 2h);
  CHECK((*all)[1].message == "refused");
  CHECK_FALSE((*all)[1].job_id);

  auto page = f.store->list_audit(1, third);  // the page after the newest
  REQUIRE(page);
  REQUIRE(page->size() == 1);
  CHECK(page->front().status == 403);

  CHECK(*f.store->purge_audit(f.clock.now() - 1h) == 1);  // the first, two hours old
  CHECK(f.store->list_audit(10)->size() == 2);
}

// ---- threads and memory -------------------------------------------------------------------------

TEST_CASE("calls from several threads at once are serialised", "[integration][sqlite]") {
  Fixture f;
  f.create("app1");
  constexpr int kThreads = 4;
  constexpr int kEach = 10;
  std::vector<std::thread> threads;
  // Catch2 assertions are not thread-safe: the threads count what went wrong, the test checks.
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!f.store->put_description("app1", DescriptionKind::first, t * kEach + i, "{}")) {
          ++errors;
        }
        // Read-modify-write of the app: a lost race is `aborted`, never a lost update.
        for (;;) {
          auto a = f.store->get_app("app1");
          if (!a) {
            ++errors;
            break;
          }
          a->generation += 1;
          auto w = f.store->upsert_app(*a);
          if (w) break;
          if (w.error().code != Errc::aborted) {
            ++errors;
            break;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(errors == 0);
  CHECK(f.store->list_descriptions("app1", DescriptionKind::first)->size() == kThreads * kEach);
  CHECK(f.store->get_app("app1")->generation == 1 + kThreads * kEach);
}

TEST_CASE("an in-memory store serves workflow unit tests", "[integration][sqlite]") {
  auto store = open_or_fail(":memory:");
  REQUIRE(store->upsert_app(new_app("app1")));
  auto job = store->create_job("app1", JobType::drill, "k", "{}");
  REQUIRE(job);
  REQUIRE(store->set_job_state(job->job.id, JobState::running, std::nullopt));
  REQUIRE(store->record_step_intent(job->job.id, "s"));
  CHECK(store->steps(job->job.id)->size() == 1);
  // Two in-memory stores are independent.
  auto other = open_or_fail(":memory:");
  CHECK(other->list_apps()->empty());
}

TEST_CASE("a value this build does not know, found in the database, is internal",
          "[integration][sqlite]") {
  Fixture f;
  f.create("app1");
  auto job = f.store->create_job("app1", JobType::protect, std::nullopt, "{}");
  REQUIRE(job);
  {
    RawDb raw(f.dir.file("state.db"));
    raw.exec("UPDATE apps SET state = 'levitating'; UPDATE jobs SET type = 'teleport'");
  }
  auto app = f.store->get_app("app1");
  REQUIRE_FALSE(app);
  CHECK(app.error().code == Errc::internal);
  CHECK_THAT(app.error().message, Catch::Contains("app 'app1'") && Catch::Contains("levitating"));
  auto j = f.store->get_job(job->job.id);
  REQUIRE_FALSE(j);
  CHECK(j.error().code == Errc::internal);
  CHECK_THAT(j.error().message, Catch::Contains("teleport"));
  CHECK(f.store->list_apps().error().code == Errc::internal);
}

TEST_CASE("every call that takes an id refuses an empty one", "[integration][sqlite]") {
  Fixture f;
  CHECK(f.store->delete_app("", 1).error().code == Errc::invalid_argument);
  CHECK(f.store->put_description("", DescriptionKind::first, 1, "{}").error().code ==
        Errc::invalid_argument);
  CHECK(f.store->replace_mirror_pairs("", {}).error().code == Errc::invalid_argument);
  CHECK(f.store->list_apps()->empty());
}
