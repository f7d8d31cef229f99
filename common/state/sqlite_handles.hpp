#pragma once
// RAII owners of SQLite's C handles (docs/architecture.md, "Conventions"). Included only by
// sqlite_state_store.cpp: no SQLite type appears in a header that other code includes.

#include <sqlite3.h>

#include <memory>

namespace dr::state {

// sqlite3_close_v2 rather than sqlite3_close: it never fails with SQLITE_BUSY on statements still
// open, it defers the close until they are finalized (a destructor cannot report a failure).
struct SqliteCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct SqliteFinalizer {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};

using DatabaseHandle = std::unique_ptr<sqlite3, SqliteCloser>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, SqliteFinalizer>;

}  // namespace dr::state
