#pragma once
// Helpers for the state store tests: a private temporary folder, a manual clock, and direct
// SQLite access to check what the store wrote.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "state/sqlite_state_store.hpp"
#include "state/state_store.hpp"
#include "support/temp_dir.hpp"

namespace dr::state::testing {

using dr::testing::TempDir;

// A clock that moves only when told to. Copies share the same time.
class ManualClock {
 public:
  ManualClock();
  Timestamp now() const { return *now_; }
  void advance(std::chrono::milliseconds d) { *now_ += d; }
  SqliteOptions options() const;  // store options that read this clock

 private:
  std::shared_ptr<Timestamp> now_;
};

// Opens the store or fails the test with the error (":memory:" for one in memory).
std::unique_ptr<StateStore> open_or_fail(const std::string& path, SqliteOptions options = {});

// A new job of `app` (pending, or moved on to running), or the test fails.
JobRecord pending_job(StateStore& store, const std::string& app,
                      JobType type = JobType::failover_planned);
JobRecord running_job(StateStore& store, const std::string& app,
                      JobType type = JobType::failover_planned);

// The job's step named `name`, if there is one.
std::optional<JobStep> find_step(StateStore& store, JobId job, const std::string& name);

// Direct SQLite access, bypassing the store.
class RawDb {
 public:
  explicit RawDb(const std::string& path);
  ~RawDb();
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  // Runs statements; fails the test on an error.
  void exec(const std::string& sql);
  // Every row of a query, its columns joined by '|'.
  std::vector<std::string> rows(const std::string& sql);
  std::string value(const std::string& sql);  // the first column of the first row

 private:
  struct Handle;
  std::unique_ptr<Handle> h_;
};

// "ok" for a sound database: PRAGMA integrity_check and PRAGMA foreign_key_check together.
std::string integrity(const std::string& path);

// The store's whole content as text, without timestamps (which differ between runs): apps, their
// descriptions, mirror pairs, jobs and steps.
std::string dump(StateStore& store);

}  // namespace dr::state::testing
