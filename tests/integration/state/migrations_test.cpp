// Opening the store: durability settings, schema migrations, and the files it must refuse.
#include <catch2/catch.hpp>
#include <fstream>
#include <vector>

#include "state/sqlite_state_store.hpp"
#include "state_test_support.hpp"

using namespace dr::state;
using namespace std::chrono_literals;
using dr::Errc;
using dr::state::testing::integrity;
using dr::state::testing::open_or_fail;
using dr::state::testing::RawDb;
using dr::state::testing::TempDir;

namespace {

const std::string kVersion = std::to_string(SqliteStateStore::builtin_migrations().size());

AppRecord app(const std::string& id) {
  AppRecord a;
  a.id = id;
  a.state = AppState::protecting;
  a.peer_site = "site-a";
  return a;
}

// The built-in migrations plus `extra`, numbered after them.
std::vector<Migration> builtin_plus(std::vector<std::string_view> extra_sql) {
  auto builtin = SqliteStateStore::builtin_migrations();
  std::vector<Migration> all(builtin.begin(), builtin.end());
  for (auto sql : extra_sql) {
    all.push_back({static_cast<int>(all.size()) + 1, "test_extra.sql", sql});
  }
  return all;
}

}  // namespace

TEST_CASE("a new database is in WAL mode, marked as drpair's, at the current schema version",
          "[integration][sqlite]") {
  TempDir dir;
  const auto path = dir.file("state.db");
  auto store = open_or_fail(path);
  REQUIRE(store->upsert_app(app("app1")));
  RawDb raw(path);
  CHECK(raw.value("PRAGMA journal_mode") == "wal");  // persistent, so visible to any connection
  CHECK(raw.value("PRAGMA user_version") == kVersion);
  CHECK(raw.value("PRAGMA application_id") == std::to_string(0x64725061));
  CHECK(integrity(path) == "ok");
}

TEST_CASE("the built-in migrations are numbered 1, 2, ... and each is named after its number",
          "[integration][sqlite]") {
  auto migrations = SqliteStateStore::builtin_migrations();
  REQUIRE_FALSE(migrations.empty());
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    CHECK(migrations[i].version == static_cast<int>(i) + 1);
    std::string prefix = std::to_string(i + 1) + "_";
    prefix.insert(0, 4 - prefix.size(), '0');
    CHECK(migrations[i].name.substr(0, 4) == prefix);
    CHECK_FALSE(migrations[i].sql.empty());
  }
}

TEST_CASE("reopening a database keeps its content and does not migrate it again",
          "[integration][sqlite]") {
  TempDir dir;
  const auto path = dir.file("state.db");
  {
    auto store = open_or_fail(path);
    REQUIRE(store->upsert_app(app("app1")));
  }
  auto store = open_or_fail(path);
  CHECK(store->get_app("app1"));
  CHECK(RawDb(path).value("PRAGMA user_version") == kVersion);
}

TEST_CASE("a database at every older schema version migrates to the current one",
          "[integration][sqlite]") {
  auto builtin = SqliteStateStore::builtin_migrations();
  for (std::size_t k = 0; k < builtin.size(); ++k) {
    INFO("from version " << k);
    TempDir dir;
    const auto path = dir.file("state.db");
    REQUIRE(SqliteStateStore::open(path, {}, builtin.first(k)));
    CHECK(RawDb(path).value("PRAGMA user_version") == std::to_string(k));
    auto store = open_or_fail(path);
    CHECK(RawDb(path).value("PRAGMA user_version") == kVersion);
    CHECK(store->upsert_app(app("app1")));
    CHECK(integrity(path) == "ok");
  }
}

TEST_CASE("a later migration is applied to a database with data, which it keeps",
          "[integration][sqlite]") {
  TempDir dir;
  const auto path = dir.file("state.db");
  {
    auto store = open_or_fail(path);
    REQUIRE(store->upsert_app(app("app1")));
    REQUIRE(store->put_description("app1", DescriptionKind::first, 1, R"({"v": 1})"));
  }
  const auto migrations =
      builtin_plus({"ALTER TABLE apps ADD COLUMN note TEXT;"
                    "UPDATE apps SET note = 'migrated';"});
  auto store = SqliteStateStore::open(path, {}, migrations);
  REQUIRE(store);
  RawDb raw(path);
  CHECK(raw.value("PRAGMA user_version") == std::to_string(migrations.size()));
  CHECK(raw.value("SELECT note FROM apps WHERE id = 'app1'") == "migrated");
  CHECK((*store)->latest_description("app1", DescriptionKind::first)->json == R"({"v": 1})");
}

TEST_CASE("a migration that fails leaves the database at the version before it",
          "[integration][sqlite]") {
  TempDir dir;
  const auto path = dir.file("state.db");
  open_or_fail(path);
  const auto migrations = builtin_plus({"CREATE TABLE half_done (x INTEGER); THIS IS NOT SQL;"});
  auto r = SqliteStateStore::open(path, {}, migrations);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::internal);
  CHECK_THAT(r.error().message, Catch::Contains("test_extra.sql") && Catch::Contains(path));
  RawDb raw(path);
  CHECK(raw.value("PRAGMA user_version") == kVersion);
  CHECK(raw.value("SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'") == "0");
  CHECK(SqliteStateStore::open(path));  // this build still opens it
}

TEST_CASE("a database written by a newer drpair is refused and left untouched",
          "[integration][sqlite]") {
  TempDir dir;
  const auto path = dir.file("state.db");
  open_or_fail(path);
  const std::string newer = std::to_string(SqliteStateStore::builtin_migrations().size() + 1);
  RawDb(path).exec("PRAGMA user_version = " + newer);

  auto r = SqliteStateStore::open(path);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::failed_precondition);
  CHECK_THAT(r.error().message, Catch::Contains("schema version " + newer) &&
                                    Catch::Contains("newer drpair") && Catch::Contains(path));
  CHECK(RawDb(path).value("PRAGMA user_version") == newer);
}

TEST_CASE("another program's SQLite database is refused", "[integration][sqlite]") {
  TempDir dir;
  const auto path = dir.file("other.db");
  SECTION("tables but no drpair mark") {
    RawDb(path).exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)");
  }
  SECTION("another application_id") { RawDb(path).exec("PRAGMA application_id = 42"); }
  auto r = SqliteStateStore::open(path);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::failed_precondition);
  CHECK_THAT(r.error().message, Catch::Contains("not a drpair state database"));
  CHECK(RawDb(path).value("PRAGMA journal_mode") == "delete");  // not switched to WAL
}

TEST_CASE("a file that is not a database is internal, naming the file", "[integration][sqlite]") {
  TempDir dir;
  const auto path = dir.file("state.db");
  std::ofstream(path) << std::string(8192, 'x');
  auto r = SqliteStateStore::open(path);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::internal);
  CHECK_THAT(r.error().message, Catch::Contains(path));
}

TEST_CASE("a database whose pages are damaged is internal at open", "[integration][sqlite]") {
  TempDir dir;
  const auto path = dir.file("state.db");
  {
    auto store = open_or_fail(path);
    for (int i = 0; i < 50; ++i) REQUIRE(store->upsert_app(app("app" + std::to_string(i))));
  }
  RawDb(path).exec("PRAGMA wal_checkpoint(TRUNCATE)");
  {
    // Overwrite the middle of page 2 onwards (page 1 holds the header, which stays valid).
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(4096 + 100);
    const std::string junk(3000, '\xA5');
    file.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto r = SqliteStateStore::open(path);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::internal);
  CHECK_THAT(r.error().message, Catch::Contains(path));
}

TEST_CASE("a folder that does not exist is failed_precondition", "[integration][sqlite]") {
  TempDir dir;
  auto r = SqliteStateStore::open(dir.file("missing/state.db"));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::failed_precondition);
  CHECK_THAT(r.error().message, Catch::Contains("missing/state.db"));
}

TEST_CASE("a write blocked beyond the busy timeout is unavailable; reads go on",
          "[integration][sqlite]") {
  TempDir dir;
  const auto path = dir.file("state.db");
  SqliteOptions options;
  options.busy_timeout = 50ms;  // a bounded wait, not a sleep: SQLite retries until it runs out
  auto store = open_or_fail(path, options);
  REQUIRE(store->upsert_app(app("app1")));

  RawDb other(path);
  other.exec("BEGIN IMMEDIATE");  // another process holds the write lock
  auto blocked = store->upsert_app(app("app2"));
  REQUIRE_FALSE(blocked);
  CHECK(blocked.error().code == Errc::unavailable);
  CHECK_THAT(blocked.error().message, Catch::Contains(path));
  CHECK(store->get_app("app1"));  // WAL: readers do not wait for the writer
  other.exec("ROLLBACK");
  CHECK(store->upsert_app(app("app2")));
}
