#pragma once
// SqliteStateStore: the StateStore on an embedded SQLite database, the agents' default.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so every call that returned
// success is on disk (the WAL is fsync'ed at each commit) and survives kill -9 and power loss; a
// process killed during a call leaves either all of that call's writes or none of them. A
// database opened after a crash is recovered from its WAL by SQLite and checked (quick_check).
// Why FULL rather than NORMAL: in WAL mode NORMAL also survives kill -9, but may lose the last
// commits on power loss: a failover job the agent had acknowledged, or a step's "done" written
// after its side effect (the resumed job would redo an idempotent step, but an acknowledged
// request would vanish). Commits here are a few per second at most; the fsync per commit costs
// 0.05 to 4 ms on the project's machines (idle to busy disk), which nothing here notices.
//
// Schema: numbered migrations (schema/NNN_name.sql) embedded at build time, each applied in its
// own transaction and counted in PRAGMA user_version. A database written by a newer drpair
// (user_version above the last migration known here) is refused with failed_precondition rather
// than misread. PRAGMA application_id marks the file as drpair's, so a path pointing at another
// program's SQLite file is refused instead of gaining our tables.
//
// Thread-safety: one connection, guarded by a mutex; every method is one transaction. The
// connection keeps each SQL statement prepared after its first use. Several
// processes on one file are serialised by SQLite's locks (busy_timeout), but one agent should own
// one file.
//
// Test doubles: none. Workflow unit tests open ":memory:" (the real store, no file, no fsync, well
// under a millisecond per call), so they run against the same code and constraints as the agents.
// Failure injection around the store, when a workflow test needs it, belongs in a wrapper that
// implements StateStore over this one, not in a second implementation.

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "state/state_store.hpp"

namespace dr::state {

// One schema migration: `sql` takes a database at version `version - 1` to `version`.
struct Migration {
  int version = 0;
  std::string_view name;  // "001_initial.sql"
  std::string_view sql;
};

struct SqliteOptions {
  // How long a call waits for another connection's lock before failing with unavailable.
  std::chrono::milliseconds busy_timeout{5000};
  // Where timestamps come from (tests inject a manual clock). Empty: the system clock.
  std::function<Timestamp()> clock;
};

class SqliteStateStore {
 public:
  // Opens (creating if needed) the database at `path` (":memory:" for a private in-memory one)
  // and brings its schema up to date.
  //   failed_precondition  written by a newer drpair, or not a drpair database, or a directory
  //                        that does not exist or is not writable
  //   internal             not a database, or corrupt (a quick_check runs at open)
  //   unavailable          locked by another process beyond the busy timeout
  static Result<std::unique_ptr<StateStore>> open(const std::string& path,
                                                  SqliteOptions options = {});

  // The same with an explicit migration list, for tests of the migration mechanism itself.
  // REQUIRES: migrations numbered 1, 2, ... in order.
  static Result<std::unique_ptr<StateStore>> open(const std::string& path, SqliteOptions options,
                                                  std::span<const Migration> migrations);

  // The migrations built into this binary, oldest first; the last one's version is the schema
  // version this code writes.
  static std::span<const Migration> builtin_migrations() noexcept;

  SqliteStateStore() = delete;
};

}  // namespace dr::state
