#include "state_test_support.hpp"

#include <sqlite3.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

namespace dr::state::testing {

ManualClock::ManualClock()
    : now_(std::make_shared<Timestamp>(std::chrono::sys_days{std::chrono::year{2026} / 11 / 24} +
                                       std::chrono::hours{20})) {}

SqliteOptions ManualClock::options() const {
  SqliteOptions o;
  o.clock = [now = now_] { return *now; };
  return o;
}

std::unique_ptr<StateStore> open_or_fail(const std::string& path, SqliteOptions options) {
  auto store = SqliteStateStore::open(path, std::move(options));
  INFO((store ? std::string() : store.error().message));
  REQUIRE(store);
  return std::move(*store);
}

struct RawDb::Handle {
  sqlite3* db = nullptr;
};

RawDb::RawDb(const std::string& path) : h_(std::make_unique<Handle>()) {
  const int rc = sqlite3_open(path.c_str(), &h_->db);
  INFO(sqlite3_errstr(rc));
  REQUIRE(rc == SQLITE_OK);
  sqlite3_busy_timeout(h_->db, 5000);
}

RawDb::~RawDb() { sqlite3_close(h_->db); }

void RawDb::exec(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(h_->db, sql.c_str(), nullptr, nullptr, &err);
  const std::string message = err != nullptr ? err : "";
  sqlite3_free(err);
  INFO(sql << ": " << message);
  REQUIRE(rc == SQLITE_OK);
}

std::vector<std::string> RawDb::rows(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(h_->db, sql.c_str(), -1, &stmt, nullptr);
  INFO(sql << ": " << sqlite3_errmsg(h_->db));
  REQUIRE(rc == SQLITE_OK);
  std::vector<std::string> out;
  int step = SQLITE_ROW;
  while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
    std::string row;
    for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
      row += (c > 0 ? "|" : "") + std::string(text != nullptr ? text : "NULL");
    }
    out.push_back(row);
  }
  sqlite3_finalize(stmt);
  REQUIRE(step == SQLITE_DONE);
  return out;
}

std::string RawDb::value(const std::string& sql) {
  auto r = rows(sql);
  REQUIRE_FALSE(r.empty());
  return r.front().substr(0, r.front().find('|'));
}

std::string integrity(const std::string& path) {
  RawDb db(path);
  auto check = db.rows("PRAGMA integrity_check");
  auto fk = db.rows("PRAGMA foreign_key_check");
  if (check == std::vector<std::string>{"ok"} && fk.empty()) return "ok";
  std::string out;
  for (const auto& r : check) out += r + "\n";
  for (const auto& r : fk) out += "foreign key: " + r + "\n";
  return out;
}

namespace {

std::string error_text(const std::optional<Error>& e) {
  return e ? std::string(dr::to_string(e->code)) + ":" + e->message : "-";
}

}  // namespace

std::string dump(StateStore& store) {
  std::string out;
  auto apps = store.list_apps();
  REQUIRE(apps);
  for (const auto& a : *apps) {
    out += "app " + a.id + " " + to_string(a.role) + " " + to_string(a.state) + " g" +
           std::to_string(a.generation) + " v" + std::to_string(a.version) + " " + a.peer_site +
           " " + error_text(a.last_error) + "\n";
    for (auto kind : {DescriptionKind::first, DescriptionKind::second}) {
      auto ds = store.list_descriptions(a.id, kind);
      REQUIRE(ds);
      for (const auto& d : *ds) {
        out += "  description " + std::string(to_string(d.kind)) + " g" +
               std::to_string(d.generation) + " " + d.json + "\n";
      }
    }
    auto pairs = store.mirror_pairs(a.id);
    REQUIRE(pairs);
    for (const auto& p : *pairs) {
      out += "  pair " + p.source.pool + "/" + p.source.image + " -> " + p.target.pool + "/" +
             p.target.image + " " + to_string(p.mode) + " " + std::to_string(p.interval_minutes) +
             " '" + p.status.text + "'\n";
    }
    auto jobs = store.list_jobs(a.id);
    REQUIRE(jobs);
    for (const auto& j : *jobs) {
      out += "  job " + std::to_string(j.id) + " " + to_string(j.type) + " " + to_string(j.state) +
             " key=" + j.idempotency_key.value_or("-") + " step=" + j.current_step + " " +
             j.request_json + " " + error_text(j.error) + "\n";
      auto steps = store.steps(j.id);
      REQUIRE(steps);
      for (const auto& s : *steps) {
        out += "    step " + std::to_string(s.seq) + " " + s.name + " " + to_string(s.state) +
               " x" + std::to_string(s.attempts) + " " + s.detail_json + " " +
               (s.finished_at ? "finished" : "open") + " " + error_text(s.error) + "\n";
      }
    }
  }
  return out;
}

JobRecord pending_job(StateStore& store, const std::string& app, JobType type) {
  auto created = store.create_job(app, type, std::nullopt, "{}");
  REQUIRE(created);
  REQUIRE(created->created);
  REQUIRE(created->job.state == JobState::pending);
  return created->job;
}

JobRecord running_job(StateStore& store, const std::string& app, JobType type) {
  const auto job = pending_job(store, app, type);
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

}  // namespace dr::state::testing
