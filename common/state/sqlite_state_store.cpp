#include "state/sqlite_state_store.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "state/schema_migrations.inc"
#include "state/sqlite_handles.hpp"

namespace dr::state {
namespace {

// Marks a database file as drpair's (PRAGMA application_id; "drPa" in ASCII), so the agent refuses
// a path that points at some other program's SQLite file instead of adding tables to it.
constexpr std::int32_t kApplicationId = 0x64725061;

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }
std::string app_name(std::string_view id) { return "app " + quoted(id); }
std::string job_name(JobId id) { return "job " + std::to_string(id); }
std::string step_name(JobId job, std::string_view step) {
  return "step " + quoted(step) + " of " + job_name(job);
}
std::string description_name(std::string_view app, DescriptionKind kind, std::int64_t generation) {
  return std::string(to_string(kind)) + " description generation " + std::to_string(generation) +
         " of " + app_name(app);
}
std::string image_name(const ImageRef& image) { return image.pool + "/" + image.image; }

// The one function that knows SQLite's result codes (docs/architecture.md, "Error model"). `rc`
// is an extended code.
Error from_sqlite(int rc, sqlite3* db, std::string_view what) {
  std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  Errc code = Errc::internal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = Errc::unavailable;
      detail += " (still locked after the busy timeout)";
      break;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      code = Errc::unavailable;
      break;
    case SQLITE_CONSTRAINT:
      switch (rc) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
          code = Errc::already_exists;
          break;
        case SQLITE_CONSTRAINT_FOREIGNKEY:
          code = Errc::not_found;
          break;
        case SQLITE_CONSTRAINT_CHECK:
        case SQLITE_CONSTRAINT_NOTNULL:
        case SQLITE_CONSTRAINT_DATATYPE:
          code = Errc::invalid_argument;
          break;
        default:
          code = Errc::internal;
          break;
      }
      break;
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      code = Errc::failed_precondition;
      break;
    case SQLITE_PERM:
    case SQLITE_AUTH:
      code = Errc::permission_denied;
      break;
    default:
      code = Errc::internal;
      break;  // SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_ERROR (a bug)
  }
  return fail(code, std::string(what) + ": " + detail, rc);
}

std::int64_t millis(Timestamp t) { return t.time_since_epoch().count(); }
Timestamp from_millis(std::int64_t ms) { return Timestamp{std::chrono::milliseconds{ms}}; }

Errc parse_errc(std::string_view s) {
  for (int i = 0; i <= static_cast<int>(Errc::internal); ++i) {
    if (s == to_string(static_cast<Errc>(i))) return static_cast<Errc>(i);
  }
  return Errc::internal;  // a code this build does not know: still an error, the message says what
}

// A prepared statement: binds by position (1-based, as SQLite counts), steps, reads columns.
// A failed bind is remembered and reported by the next step(). It either owns its statement
// (finalized when it goes) or borrows one from a StatementCache (reset, bindings cleared and
// given back when it goes).
class Statement {
 public:
  Statement(sqlite3* db, StatementHandle owned)
      : db_(db), owned_(std::move(owned)), stmt_(owned_.get()) {}
  Statement(sqlite3* db, sqlite3_stmt* borrowed, bool* in_use)
      : db_(db), stmt_(borrowed), in_use_(in_use) {}
  Statement(Statement&& other) noexcept
      : db_(other.db_),
        owned_(std::move(other.owned_)),
        stmt_(std::exchange(other.stmt_, nullptr)),
        in_use_(std::exchange(other.in_use_, nullptr)),
        bind_rc_(other.bind_rc_) {}
  Statement& operator=(Statement&&) = delete;
  ~Statement() {
    if (in_use_ == nullptr) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    *in_use_ = false;
  }

  Statement& bind(int i, std::int64_t v) {
    note(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  Statement& bind(int i, std::string_view v) {
    note(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  template <class T>
  Statement& bind(int i, const std::optional<T>& v) {
    if (!v) {
      note(sqlite3_bind_null(stmt_, i));
      return *this;
    }
    return bind(i, *v);
  }
  Statement& bind(int i, Timestamp t) { return bind(i, millis(t)); }

  // true: a row is ready; false: done.
  Result<bool> step(std::string_view what) {
    if (bind_rc_ != SQLITE_OK) return from_sqlite(bind_rc_, db_, what);
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return from_sqlite(sqlite3_extended_errcode(db_), db_, what);
  }
  // Runs a statement that returns no rows.
  Status run(std::string_view what) {
    auto r = step(what);
    if (!r) return r.error();
    return {};
  }

  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(stmt_, col));
  }
  std::optional<std::int64_t> opt_int64(int col) const {
    return is_null(col) ? std::nullopt : std::optional(int64(col));
  }
  std::optional<Timestamp> opt_time(int col) const {
    return is_null(col) ? std::nullopt : std::optional(from_millis(int64(col)));
  }
  Timestamp time(int col) const { return from_millis(int64(col)); }
  // An error stored as two columns (code, message); NULL code: none.
  std::optional<Error> error(int code_col, int message_col) const {
    if (is_null(code_col)) return std::nullopt;
    return Error{parse_errc(text(code_col)), text(message_col), 0};
  }

 private:
  void note(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }

  sqlite3* db_;
  StatementHandle owned_;
  sqlite3_stmt* stmt_;
  bool* in_use_ = nullptr;  // the cache's flag, when borrowed
  int bind_rc_ = SQLITE_OK;
};

Result<Statement> prepare(sqlite3* db, std::string_view sql, std::string_view what) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  StatementHandle stmt(raw);
  if (rc != SQLITE_OK) return from_sqlite(rc, db, what);
  return Statement(db, std::move(stmt));
}

// The statements of one connection, prepared once and reused: preparing costs more than running
// the small queries of the store (a third of a GET /v1/apps/{app}, measured). A statement still
// in use (the same SQL needed twice at once) is prepared afresh for the second user.
// Thread-safety: none; the store's mutex guards it with the connection.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}

  Result<Statement> get(const std::string& sql, std::string_view what) {
    auto it = entries_.find(sql);
    if (it == entries_.end()) {
      sqlite3_stmt* raw = nullptr;
      const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                        SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
      StatementHandle stmt(raw);
      if (rc != SQLITE_OK) return from_sqlite(rc, db_, what);
      it = entries_.emplace(sql, Entry{std::move(stmt), false}).first;
    }
    Entry& e = it->second;
    if (e.in_use) return prepare(db_, sql, what);
    e.in_use = true;
    return Statement(db_, e.stmt.get(), &e.in_use);
  }

 private:
  struct Entry {
    StatementHandle stmt;
    bool in_use = false;
  };
  sqlite3* db_;
  std::unordered_map<std::string, Entry> entries_;  // node-based: flags stay put
};

// Runs one or more statements that return no rows (transaction control, pragmas, migrations).
Status exec(sqlite3* db, const std::string& sql, std::string_view what) {
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return from_sqlite(sqlite3_extended_errcode(db), db, what);
  return {};
}

// The first column of the first row of `sql` (0 or "" when there is no row): pragmas, counts.
template <class T>
Result<T> scalar(sqlite3* db, const std::string& sql, std::string_view what) {
  auto stmt = prepare(db, sql, what);
  if (!stmt) return stmt.error();
  auto row = stmt->step(what);
  if (!row) return row.error();
  if (!*row) return T{};
  if constexpr (std::is_same_v<T, std::string>) {
    return stmt->text(0);
  } else {
    return stmt->int64(0);
  }
}

// A transaction that rolls back unless committed. Writers take the write lock up front
// (BEGIN IMMEDIATE): a deferred transaction that reads and then writes can fail with SQLITE_BUSY
// on the upgrade without the busy handler being able to help.
class Transaction {
 public:
  static Result<Transaction> begin(sqlite3* db, bool write, std::string_view what) {
    auto s = exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN", what);
    if (!s) return s.error();
    return Transaction(db);
  }
  Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction() {
    if (db_ != nullptr) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Status commit(std::string_view what) {
    auto s = exec(db_, "COMMIT", what);
    // A failed COMMIT may leave the transaction open (SQLITE_BUSY); the destructor rolls it back.
    if (s) db_ = nullptr;
    return s;
  }

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// ---- rows ---------------------------------------------------------------------------------------

// Reads an enum column; a spelling this build does not know means the file was written by
// something else: internal.
template <class E>
Result<E> enum_column(const Statement& s, int col, Result<E> (*parse)(std::string_view),
                      const std::string& owner) {
  auto v = parse(s.text(col));
  if (!v) return fail(Errc::internal, owner + ": in the database: " + v.error().message);
  return *v;
}

constexpr const char* kAppColumns =
    "id, role, state, generation, peer_site, version, created_at, updated_at, last_error_code, "
    "last_error_message";

Result<AppRecord> read_app(const Statement& s) {
  AppRecord a;
  a.id = s.text(0);
  auto role = enum_column(s, 1, parse_app_role, app_name(a.id));
  if (!role) return role.error();
  auto state = enum_column(s, 2, parse_app_state, app_name(a.id));
  if (!state) return state.error();
  a.role = *role;
  a.state = *state;
  a.generation = s.int64(3);
  a.peer_site = s.text(4);
  a.version = s.int64(5);
  a.created_at = s.time(6);
  a.updated_at = s.time(7);
  a.last_error = s.error(8, 9);
  return a;
}

constexpr const char* kDescriptionColumns = "app_id, kind, generation, document, stored_at";

Result<DescriptionVersion> read_description(const Statement& s) {
  DescriptionVersion d;
  d.app_id = s.text(0);
  auto kind = enum_column(s, 1, parse_description_kind, app_name(d.app_id));
  if (!kind) return kind.error();
  d.kind = *kind;
  d.generation = s.int64(2);
  d.json = s.text(3);
  d.stored_at = s.time(4);
  return d;
}

constexpr const char* kMirrorColumns =
    "app_id, source_pool, source_image, target_pool, target_image, mode, interval_minutes, "
    "status, last_sync_at, lag_seconds, status_checked_at";

Result<MirrorPairRecord> read_mirror_pair(const Statement& s) {
  MirrorPairRecord p;
  p.app_id = s.text(0);
  p.source = {s.text(1), s.text(2)};
  p.target = {s.text(3), s.text(4)};
  auto mode = enum_column(s, 5, parse_mirror_mode, "mirror pair " + image_name(p.source));
  if (!mode) return mode.error();
  p.mode = *mode;
  p.interval_minutes = static_cast<int>(s.int64(6));
  p.status.text = s.text(7);
  p.status.last_sync_at = s.opt_time(8);
  p.status.lag_seconds = s.opt_int64(9);
  p.status.checked_at = s.opt_time(10);
  return p;
}

constexpr const char* kJobColumns =
    "id, app_id, type, state, idempotency_key, request, current_step, created_at, updated_at, "
    "error_code, error_message";

Result<JobRecord> read_job(const Statement& s) {
  JobRecord j;
  j.id = s.int64(0);
  j.app_id = s.text(1);
  auto type = enum_column(s, 2, parse_job_type, job_name(j.id));
  if (!type) return type.error();
  auto state = enum_column(s, 3, parse_job_state, job_name(j.id));
  if (!state) return state.error();
  j.type = *type;
  j.state = *state;
  if (!s.is_null(4)) j.idempotency_key = s.text(4);
  j.request_json = s.text(5);
  j.current_step = s.text(6);
  j.created_at = s.time(7);
  j.updated_at = s.time(8);
  j.error = s.error(9, 10);
  return j;
}

constexpr const char* kStepColumns =
    "job_id, seq, name, state, attempts, started_at, finished_at, detail, error_code, "
    "error_message";

Result<JobStep> read_step(const Statement& s) {
  JobStep st;
  st.job_id = s.int64(0);
  st.seq = static_cast<int>(s.int64(1));
  st.name = s.text(2);
  auto state = enum_column(s, 3, parse_step_state, step_name(st.job_id, st.name));
  if (!state) return state.error();
  st.state = *state;
  st.attempts = static_cast<int>(s.int64(4));
  st.started_at = s.time(5);
  st.finished_at = s.opt_time(6);
  if (st.finished_at) st.duration_ms = (*st.finished_at - st.started_at).count();
  st.detail_json = s.text(7);
  st.error = s.error(8, 9);
  return st;
}

Result<AuditRecord> read_audit(const Statement& s) {
  AuditRecord r;
  r.id = s.int64(0);
  r.at = s.time(1);
  r.caller_kind = s.text(2);
  r.caller = s.text(3);
  r.method = s.text(4);
  r.path = s.text(5);
  r.status = static_cast<int>(s.int64(6));
  r.job_id = s.opt_int64(7);
  r.message = s.text(8);
  return r;
}

// Steps a query and maps every row; `what` names the query for errors.
template <class T>
Result<std::vector<T>> collect(Statement& s, Result<T> (*read)(const Statement&),
                               std::string_view what) {
  std::vector<T> out;
  for (;;) {
    auto row = s.step(what);
    if (!row) return row.error();
    if (!*row) return out;
    auto v = read(s);
    if (!v) return v.error();
    out.push_back(std::move(*v));
  }
}

// The first row of a query, if there is one.
template <class T>
Result<std::optional<T>> maybe_one(Statement& s, Result<T> (*read)(const Statement&),
                                   std::string_view what) {
  auto row = s.step(what);
  if (!row) return row.error();
  if (!*row) return std::optional<T>();
  auto v = read(s);
  if (!v) return v.error();
  return std::optional<T>(std::move(*v));
}

// The first row of a query, or not_found with `missing`.
template <class T>
Result<T> one(Statement& s, Result<T> (*read)(const Statement&), std::string_view what,
              const std::string& missing) {
  auto v = maybe_one(s, read, what);
  if (!v) return v.error();
  if (!*v) return fail(Errc::not_found, missing);
  return std::move(**v);
}

Status require_id(std::string_view id, const char* what) {
  if (id.empty()) return fail(Errc::invalid_argument, std::string(what) + " must not be empty");
  return {};
}

// ---- the store ----------------------------------------------------------------------------------

class Store final : public StateStore {
 public:
  Store(DatabaseHandle db, std::string path, std::function<Timestamp()> clock)
      : db_(std::move(db)), path_(std::move(path)), clock_(std::move(clock)) {}

  Result<AppRecord> upsert_app(const AppRecord& app) override {
    if (auto s = require_id(app.id, "app id"); !s) return s.error();
    if (app.version < 0)
      return fail(Errc::invalid_argument, app_name(app.id) + ": negative version");
    return write(app_name(app.id), [&]() -> Result<AppRecord> {
      const std::string what = app_name(app.id);
      auto current = find_app(app.id);
      if (!current) return current.error();
      const Timestamp now = now_ms();
      if (app.version == 0) {
        if (*current) {
          return fail(Errc::already_exists, what + " already exists (version " +
                                                std::to_string((*current)->version) + ")");
        }
        auto ins = prepare_(
            "INSERT INTO apps (id, role, state, generation, peer_site, version, created_at, "
            "updated_at, last_error_code, last_error_message) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, "
            "?)",
            what);
        if (!ins) return ins.error();
        bind_app(*ins, app).bind(6, now).bind(7, now);
        if (auto s = ins->run(what + ": insert"); !s) return s.error();
      } else {
        if (!*current) return fail(Errc::not_found, what + " does not exist (it was removed)");
        const AppRecord& stored = **current;
        if (stored.version != app.version) {
          return fail(Errc::aborted, what + ": version " + std::to_string(app.version) +
                                         " was read, the store has version " +
                                         std::to_string(stored.version));
        }
        if (!is_allowed_transition(stored.state, app.state)) {
          return fail(
              Errc::failed_precondition,
              what + ": cannot go from " + to_string(stored.state) + " to " + to_string(app.state));
        }
        auto upd = prepare_(
            "UPDATE apps SET id = ?1, role = ?2, state = ?3, generation = ?4, peer_site = ?5, "
            "last_error_code = ?8, last_error_message = ?9, version = version + 1, "
            "updated_at = ?7 WHERE id = ?1",
            what);
        if (!upd) return upd.error();
        bind_app(*upd, app).bind(7, now);
        if (auto s = upd->run(what + ": update"); !s) return s.error();
      }
      auto stored = find_app(app.id);
      if (!stored) return stored.error();
      return **stored;
    });
  }

  Result<AppRecord> get_app(std::string_view app_id) override {
    return read([&]() -> Result<AppRecord> {
      auto a = find_app(app_id);
      if (!a) return a.error();
      if (!*a) return fail(Errc::not_found, app_name(app_id) + " does not exist");
      return **a;
    });
  }

  Result<std::vector<AppRecord>> list_apps() override {
    return read([&]() -> Result<std::vector<AppRecord>> {
      auto s = prepare_(std::string("SELECT ") + kAppColumns + " FROM apps ORDER BY id", "apps");
      if (!s) return s.error();
      return collect(*s, read_app, "list apps");
    });
  }

  Status delete_app(std::string_view app_id, std::int64_t expected_version) override {
    if (auto s = require_id(app_id, "app id"); !s) return s;
    return write(app_name(app_id), [&]() -> Status {
      const std::string what = app_name(app_id);
      auto current = find_app(app_id);
      if (!current) return current.error();
      if (!*current) return fail(Errc::not_found, what + " does not exist");
      if ((*current)->version != expected_version) {
        return fail(Errc::aborted, what + ": version " + std::to_string(expected_version) +
                                       " was read, the store has version " +
                                       std::to_string((*current)->version));
      }
      auto busy = unfinished_job_of(app_id);
      if (!busy) return busy.error();
      if (*busy) {
        return fail(Errc::failed_precondition,
                    what + " cannot be removed while " + describe_job(**busy) + " is unfinished");
      }
      auto del = prepare_("DELETE FROM apps WHERE id = ?", what);
      if (!del) return del.error();
      del->bind(1, app_id);
      return del->run(what + ": delete");
    });
  }

  Result<DescriptionVersion> put_description(std::string_view app_id, DescriptionKind kind,
                                             std::int64_t generation,
                                             std::string_view json) override {
    if (auto s = require_id(app_id, "app id"); !s) return s.error();
    const std::string what = description_name(app_id, kind, generation);
    if (generation < 0) return fail(Errc::invalid_argument, what + ": negative generation");
    return write(what, [&]() -> Result<DescriptionVersion> {
      if (auto s = require_app(app_id); !s) return s.error();
      auto existing = find_description(app_id, kind, generation);
      if (!existing) return existing.error();
      if (*existing) {
        if ((*existing)->json == json) return **existing;  // a retried ship
        return fail(Errc::already_exists, what + " is already stored with other content");
      }
      auto ins = prepare_(
          "INSERT INTO descriptions (app_id, kind, generation, document, stored_at) "
          "VALUES (?, ?, ?, ?, ?)",
          what);
      if (!ins) return ins.error();
      ins->bind(1, app_id)
          .bind(2, to_string(kind))
          .bind(3, generation)
          .bind(4, json)
          .bind(5, now_ms());
      if (auto s = ins->run(what + " (must be JSON)"); !s) return s.error();
      auto stored = find_description(app_id, kind, generation);
      if (!stored) return stored.error();
      return **stored;
    });
  }

  Result<DescriptionVersion> get_description(std::string_view app_id, DescriptionKind kind,
                                             std::int64_t generation) override {
    return read([&]() -> Result<DescriptionVersion> {
      auto d = find_description(app_id, kind, generation);
      if (!d) return d.error();
      if (!*d) {
        return fail(Errc::not_found, description_name(app_id, kind, generation) + " is not stored");
      }
      return **d;
    });
  }

  Result<DescriptionVersion> latest_description(std::string_view app_id,
                                                DescriptionKind kind) override {
    return read([&]() -> Result<DescriptionVersion> {
      auto s = prepare_(std::string("SELECT ") + kDescriptionColumns +
                            " FROM descriptions WHERE app_id = ? AND kind = ? "
                            "ORDER BY generation DESC LIMIT 1",
                        app_name(app_id));
      if (!s) return s.error();
      s->bind(1, app_id).bind(2, to_string(kind));
      return one(*s, read_description, app_name(app_id),
                 app_name(app_id) + " has no " + to_string(kind) + " description");
    });
  }

  Result<std::vector<DescriptionVersion>> list_descriptions(std::string_view app_id,
                                                            DescriptionKind kind) override {
    return read([&]() -> Result<std::vector<DescriptionVersion>> {
      if (auto s = require_app(app_id); !s) return s.error();
      auto s = prepare_(std::string("SELECT ") + kDescriptionColumns +
                            " FROM descriptions WHERE app_id = ? AND kind = ? ORDER BY generation",
                        app_name(app_id));
      if (!s) return s.error();
      s->bind(1, app_id).bind(2, to_string(kind));
      return collect(*s, read_description, app_name(app_id) + ": descriptions");
    });
  }

  Status replace_mirror_pairs(std::string_view app_id,
                              const std::vector<MirrorPairRecord>& pairs) override {
    if (auto s = require_id(app_id, "app id"); !s) return s;
    const std::string what = app_name(app_id) + ": mirror pairs";
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      const auto& p = pairs[i];
      if (p.source.pool.empty() || p.source.image.empty() || p.target.pool.empty() ||
          p.target.image.empty()) {
        return fail(Errc::invalid_argument,
                    what + ": pair " + std::to_string(i) + " has an empty pool or image name");
      }
      if (p.interval_minutes <= 0) {
        return fail(Errc::invalid_argument,
                    what + ": mirror pair " + image_name(p.source) + ": interval must be positive");
      }
      for (std::size_t k = 0; k < i; ++k) {
        if (pairs[k].source == p.source || pairs[k].target == p.target) {
          return fail(Errc::invalid_argument, what + ": " + image_name(p.source) + " -> " +
                                                  image_name(p.target) +
                                                  " repeats a source or target image");
        }
      }
    }
    return write(what, [&]() -> Status {
      if (auto s = require_app(app_id); !s) return s;
      auto old = select_mirror_pairs(app_id);
      if (!old) return old.error();
      auto del = prepare_("DELETE FROM mirror_pairs WHERE app_id = ?", what);
      if (!del) return del.error();
      del->bind(1, app_id);
      if (auto s = del->run(what + ": delete"); !s) return s;
      for (const auto& p : pairs) {
        MirrorStatus status;  // a new pair has none yet; a kept pair keeps its own
        for (const auto& o : *old) {
          if (o.source == p.source && o.target == p.target) status = o.status;
        }
        auto ins = prepare_(
            "INSERT INTO mirror_pairs (app_id, source_pool, source_image, target_pool, "
            "target_image, mode, interval_minutes, status, last_sync_at, lag_seconds, "
            "status_checked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            what);
        if (!ins) return ins.error();
        ins->bind(1, app_id)
            .bind(2, p.source.pool)
            .bind(3, p.source.image)
            .bind(4, p.target.pool)
            .bind(5, p.target.image)
            .bind(6, to_string(p.mode))
            .bind(7, std::int64_t{p.interval_minutes})
            .bind(8, status.text)
            .bind(9, status.last_sync_at)
            .bind(10, status.lag_seconds)
            .bind(11, status.checked_at);
        if (auto s = ins->run(what + ": " + image_name(p.source)); !s) return s;
      }
      return {};
    });
  }

  Result<std::vector<MirrorPairRecord>> mirror_pairs(std::string_view app_id) override {
    return read([&]() -> Result<std::vector<MirrorPairRecord>> {
      if (auto s = require_app(app_id); !s) return s.error();
      return select_mirror_pairs(app_id);
    });
  }

  Status update_mirror_status(std::string_view app_id, const ImageRef& source,
                              const MirrorStatus& status) override {
    const std::string what = "mirror pair " + image_name(source) + " of " + app_name(app_id);
    return write(what, [&]() -> Status {
      auto upd = prepare_(
          "UPDATE mirror_pairs SET status = ?, last_sync_at = ?, lag_seconds = ?, "
          "status_checked_at = ? WHERE app_id = ? AND source_pool = ? AND source_image = ?",
          what);
      if (!upd) return upd.error();
      upd->bind(1, status.text)
          .bind(2, status.last_sync_at)
          .bind(3, status.lag_seconds)
          .bind(4, status.checked_at.value_or(now_ms()))
          .bind(5, app_id)
          .bind(6, source.pool)
          .bind(7, source.image);
      if (auto s = upd->run(what); !s) return s;
      if (sqlite3_changes(db_.get()) == 0) return fail(Errc::not_found, what + " does not exist");
      return {};
    });
  }

  Result<CreatedJob> create_job(std::string_view app_id, JobType type,
                                std::optional<std::string_view> idempotency_key,
                                std::string_view request_json) override {
    if (auto s = require_id(app_id, "app id"); !s) return s.error();
    if (idempotency_key && idempotency_key->empty()) {
      return fail(Errc::invalid_argument, "idempotency key must not be empty when given");
    }
    const std::string what = std::string(to_string(type)) + " job of " + app_name(app_id);
    return write(what, [&]() -> Result<CreatedJob> {
      if (idempotency_key) {
        auto s = prepare_(
            std::string("SELECT ") + kJobColumns + " FROM jobs WHERE idempotency_key = ?", what);
        if (!s) return s.error();
        s->bind(1, *idempotency_key);
        auto job = maybe_one(*s, read_job, what);
        if (!job) return job.error();
        if (*job) {
          if ((*job)->app_id != app_id || (*job)->type != type) {
            return fail(Errc::already_exists, "idempotency key " + quoted(*idempotency_key) +
                                                  " was used for " + describe_job(**job) +
                                                  ", not for a " + what);
          }
          return CreatedJob{std::move(**job), false};
        }
      }
      auto busy = unfinished_job_of(app_id);
      if (!busy) return busy.error();
      if (*busy) {
        return fail(Errc::failed_precondition,
                    app_name(app_id) + " already has " + describe_job(**busy) + " unfinished");
      }
      const Timestamp now = now_ms();
      auto ins = prepare_(
          "INSERT INTO jobs (app_id, type, state, idempotency_key, request, created_at, "
          "updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?)",
          what);
      if (!ins) return ins.error();
      ins->bind(1, app_id)
          .bind(2, to_string(type))
          .bind(3, idempotency_key)
          .bind(4, request_json)
          .bind(5, now)
          .bind(6, now);
      if (auto s = ins->run(what + ": request must be JSON"); !s) return s.error();
      auto job = find_job(sqlite3_last_insert_rowid(db_.get()));
      if (!job) return job.error();
      return CreatedJob{std::move(*job), true};
    });
  }

  Result<JobRecord> get_job(JobId id) override {
    return read([&] { return find_job(id); });
  }

  Result<std::vector<JobRecord>> list_jobs(std::string_view app_id) override {
    return read([&]() -> Result<std::vector<JobRecord>> {
      auto s =
          prepare_(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE app_id = ? ORDER BY id",
                   app_name(app_id));
      if (!s) return s.error();
      s->bind(1, app_id);
      return collect(*s, read_job, app_name(app_id) + ": jobs");
    });
  }

  Result<std::vector<JobRecord>> unfinished_jobs() override {
    return read([&]() -> Result<std::vector<JobRecord>> {
      auto s = prepare_(std::string("SELECT ") + kJobColumns +
                            " FROM jobs WHERE state IN ('pending', 'running') ORDER BY id",
                        "unfinished jobs");
      if (!s) return s.error();
      return collect(*s, read_job, "unfinished jobs");
    });
  }

  Result<JobRecord> set_job_state(JobId id, JobState to,
                                  const std::optional<Error>& error) override {
    return write(job_name(id), [&]() -> Result<JobRecord> {
      auto job = find_job(id);
      if (!job) return job.error();
      if (job->state == to) return *job;
      if (!is_allowed_transition(job->state, to)) {
        return fail(Errc::failed_precondition, job_name(id) + ": cannot go from " +
                                                   to_string(job->state) + " to " + to_string(to));
      }
      if (job->state == JobState::failed && to == JobState::running) {
        auto busy = unfinished_job_of(job->app_id);
        if (!busy) return busy.error();
        if (*busy) {
          return fail(Errc::failed_precondition,
                      job_name(id) + " cannot resume: " + app_name(job->app_id) + " has " +
                          describe_job(**busy) + " unfinished");
        }
      }
      const bool keeps_error = to == JobState::failed || to == JobState::cancelled;
      std::optional<std::string> code, message;
      if (keeps_error && error) {
        code = dr::to_string(error->code);
        message = error->message;
      }
      auto upd = prepare_(
          "UPDATE jobs SET state = ?, updated_at = ?, error_code = ?, error_message = ? "
          "WHERE id = ?",
          job_name(id));
      if (!upd) return upd.error();
      upd->bind(1, to_string(to)).bind(2, now_ms()).bind(3, code).bind(4, message).bind(5, id);
      if (auto s = upd->run(job_name(id)); !s) return s.error();
      return find_job(id);
    });
  }

  Result<JobStep> record_step_intent(JobId job, std::string_view step) override {
    if (auto s = require_id(step, "step name"); !s) return s.error();
    const std::string what = step_name(job, step);
    return write(what, [&]() -> Result<JobStep> {
      if (auto s = require_running(job, step); !s) return s.error();
      auto existing = find_step(job, step);
      if (!existing) return existing.error();
      const Timestamp now = now_ms();
      if (!*existing) {
        auto ins = prepare_(
            "INSERT INTO job_steps (job_id, seq, name, state, attempts, started_at) "
            "VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM job_steps WHERE job_id = ?1), "
            "?2, 'intent_recorded', 1, ?3)",
            what);
        if (!ins) return ins.error();
        ins->bind(1, job).bind(2, step).bind(3, now);
        if (auto s = ins->run(what + ": record intent"); !s) return s.error();
      } else if ((*existing)->state == StepState::done) {
        return fail(Errc::already_exists, what + " is already done: skip it");
      } else {
        // Another attempt: after a crash (intent_recorded) or a failure (failed).
        auto upd = prepare_(
            "UPDATE job_steps SET state = 'intent_recorded', attempts = attempts + 1, "
            "started_at = ?, finished_at = NULL, error_code = NULL, error_message = NULL "
            "WHERE job_id = ? AND name = ?",
            what);
        if (!upd) return upd.error();
        upd->bind(1, now).bind(2, job).bind(3, step);
        if (auto s = upd->run(what + ": record intent"); !s) return s.error();
      }
      return finish_step_write(job, step, now);
    });
  }

  Result<JobStep> record_step_done(JobId job, std::string_view step,
                                   std::string_view detail_json) override {
    return record_result(job, step, StepState::done, std::nullopt, detail_json);
  }

  Result<JobStep> record_step_failed(JobId job, std::string_view step, const Error& error,
                                     std::string_view detail_json) override {
    return record_result(job, step, StepState::failed, error, detail_json);
  }

  Result<std::vector<JobStep>> steps(JobId job) override {
    return read([&]() -> Result<std::vector<JobStep>> {
      if (auto j = find_job(job); !j) return j.error();
      auto s = prepare_(
          std::string("SELECT ") + kStepColumns + " FROM job_steps WHERE job_id = ? ORDER BY seq",
          job_name(job));
      if (!s) return s.error();
      s->bind(1, job);
      return collect(*s, read_step, job_name(job) + ": steps");
    });
  }

  Result<bool> remember_webhook(std::string_view key, std::chrono::seconds ttl) override {
    if (auto s = require_id(key, "webhook key"); !s) return s.error();
    if (ttl.count() <= 0) return fail(Errc::invalid_argument, "webhook key ttl must be positive");
    const std::string what = "webhook key " + quoted(key);
    return write(what, [&]() -> Result<bool> {
      const Timestamp now = now_ms();
      if (auto s = purge(now); !s) return s.error();
      auto ins = prepare_(
          "INSERT INTO webhook_keys (key, received_at, expires_at) VALUES (?, ?, ?) "
          "ON CONFLICT (key) DO NOTHING",
          what);
      if (!ins) return ins.error();
      ins->bind(1, key).bind(2, now).bind(3, now + std::chrono::milliseconds(ttl));
      if (auto s = ins->run(what); !s) return s.error();
      return sqlite3_changes(db_.get()) == 1;
    });
  }

  Result<int> purge_expired_webhooks() override {
    return write("webhook keys", [&]() -> Result<int> { return purge(now_ms()); });
  }

  Result<std::int64_t> append_audit(const AuditRecord& r) override {
    return write("audit", [&]() -> Result<std::int64_t> {
      auto ins = prepare_(
          "INSERT INTO audit (at, caller_kind, caller, method, path, status, job_id, message) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
          "audit");
      if (!ins) return ins.error();
      ins->bind(1, r.at).bind(2, r.caller_kind).bind(3, r.caller).bind(4, r.method);
      ins->bind(5, r.path).bind(6, std::int64_t{r.status}).bind(7, r.job_id).bind(8, r.message);
      if (auto s = ins->run("audit"); !s) return s.error();
      return sqlite3_last_insert_rowid(db_.get());
    });
  }

  Result<std::vector<AuditRecord>> list_audit(std::size_t limit,
                                              std::optional<std::int64_t> before_id) override {
    return read([&]() -> Result<std::vector<AuditRecord>> {
      auto s = prepare_(
          "SELECT id, at, caller_kind, caller, method, path, status, job_id, message FROM audit "
          "WHERE id < ? ORDER BY id DESC LIMIT ?",
          "audit");
      if (!s) return s.error();
      s->bind(1, before_id.value_or(std::numeric_limits<std::int64_t>::max()))
          .bind(2, static_cast<std::int64_t>(std::min<std::size_t>(limit, 1'000'000)));
      return collect(*s, read_audit, "audit");
    });
  }

  Result<int> purge_audit(Timestamp older_than) override {
    return write("audit", [&]() -> Result<int> {
      auto del = prepare_("DELETE FROM audit WHERE at < ?", "audit");
      if (!del) return del.error();
      del->bind(1, older_than);
      if (auto s = del->run("audit"); !s) return s.error();
      return sqlite3_changes(db_.get());
    });
  }

 private:
  // Runs `body` in a write (or read) transaction under the connection's mutex; commits when the
  // body succeeds, rolls back when it fails.
  template <class F>
  std::invoke_result_t<F&> transact(bool write, std::string_view what, F& body) {
    std::lock_guard lock(mu_);
    const std::string context = "state database " + quoted(path_) + ": " + std::string(what);
    auto tx = Transaction::begin(db_.get(), write, context);
    if (!tx) return tx.error();
    auto result = body();
    if (!result) return result;
    if (auto s = tx->commit(context); !s) return s.error();
    return result;
  }
  template <class F>
  std::invoke_result_t<F&> write(std::string_view what, F body) {
    return transact(true, what, body);
  }
  template <class F>
  std::invoke_result_t<F&> read(F body) {
    return transact(false, "read", body);
  }

  Timestamp now_ms() const { return clock_(); }

  Result<Statement> prepare_(const std::string& sql, std::string_view what) {
    return statements_.get(sql, what);
  }

  // Binds the app's own columns (1-5, 8-9) as INSERT and UPDATE above number them.
  static Statement& bind_app(Statement& s, const AppRecord& a) {
    std::optional<std::string> code, message;
    if (a.last_error) {
      code = dr::to_string(a.last_error->code);
      message = a.last_error->message;
    }
    return s.bind(1, a.id)
        .bind(2, to_string(a.role))
        .bind(3, to_string(a.state))
        .bind(4, a.generation)
        .bind(5, a.peer_site)
        .bind(8, code)
        .bind(9, message);
  }

  Result<std::optional<AppRecord>> find_app(std::string_view id) {
    auto s =
        prepare_(std::string("SELECT ") + kAppColumns + " FROM apps WHERE id = ?", app_name(id));
    if (!s) return s.error();
    s->bind(1, id);
    return maybe_one(*s, read_app, app_name(id));
  }

  Status require_app(std::string_view id) {
    auto a = find_app(id);
    if (!a) return a.error();
    if (!*a) return fail(Errc::not_found, app_name(id) + " does not exist");
    return {};
  }

  Result<std::optional<DescriptionVersion>> find_description(std::string_view app_id,
                                                             DescriptionKind kind,
                                                             std::int64_t generation) {
    const std::string what = description_name(app_id, kind, generation);
    auto s = prepare_(std::string("SELECT ") + kDescriptionColumns +
                          " FROM descriptions WHERE app_id = ? AND kind = ? AND generation = ?",
                      what);
    if (!s) return s.error();
    s->bind(1, app_id).bind(2, to_string(kind)).bind(3, generation);
    return maybe_one(*s, read_description, what);
  }

  Result<std::vector<MirrorPairRecord>> select_mirror_pairs(std::string_view app_id) {
    auto s = prepare_(std::string("SELECT ") + kMirrorColumns +
                          " FROM mirror_pairs WHERE app_id = ? ORDER BY source_pool, source_image",
                      app_name(app_id));
    if (!s) return s.error();
    s->bind(1, app_id);
    return collect(*s, read_mirror_pair, app_name(app_id) + ": mirror pairs");
  }

  Result<JobRecord> find_job(JobId id) {
    auto s =
        prepare_(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?", job_name(id));
    if (!s) return s.error();
    s->bind(1, id);
    return one(*s, read_job, job_name(id), job_name(id) + " does not exist");
  }

  Result<std::optional<JobRecord>> unfinished_job_of(std::string_view app_id) {
    auto s = prepare_(std::string("SELECT ") + kJobColumns +
                          " FROM jobs WHERE app_id = ? AND state IN ('pending', 'running')",
                      app_name(app_id));
    if (!s) return s.error();
    s->bind(1, app_id);
    return maybe_one(*s, read_job, app_name(app_id));
  }

  static std::string describe_job(const JobRecord& j) {
    return job_name(j.id) + " (" + to_string(j.type) + " of " + app_name(j.app_id) + ", " +
           to_string(j.state) + ")";
  }

  Status require_running(JobId job, std::string_view step) {
    auto j = find_job(job);
    if (!j) return j.error();
    if (j->state != JobState::running) {
      return fail(Errc::failed_precondition,
                  step_name(job, step) + ": the job is " + to_string(j->state) + ", not running");
    }
    return {};
  }

  Result<std::optional<JobStep>> find_step(JobId job, std::string_view step) {
    const std::string what = step_name(job, step);
    auto s = prepare_(
        std::string("SELECT ") + kStepColumns + " FROM job_steps WHERE job_id = ? AND name = ?",
        what);
    if (!s) return s.error();
    s->bind(1, job).bind(2, step);
    return maybe_one(*s, read_step, what);
  }

  // Every step write also moves the job's current_step, in the same transaction.
  Result<JobStep> finish_step_write(JobId job, std::string_view step, Timestamp now) {
    auto upd =
        prepare_("UPDATE jobs SET current_step = ?, updated_at = ? WHERE id = ?", job_name(job));
    if (!upd) return upd.error();
    upd->bind(1, step).bind(2, now).bind(3, job);
    if (auto s = upd->run(job_name(job) + ": current step"); !s) return s.error();
    auto st = find_step(job, step);
    if (!st) return st.error();
    return **st;
  }

  Result<JobStep> record_result(JobId job, std::string_view step, StepState to,
                                const std::optional<Error>& error, std::string_view detail_json) {
    const std::string what = step_name(job, step);
    return write(what, [&]() -> Result<JobStep> {
      if (auto s = require_running(job, step); !s) return s.error();
      auto existing = find_step(job, step);
      if (!existing) return existing.error();
      if (!*existing) return fail(Errc::not_found, what + " has no recorded intent");
      if ((*existing)->state != StepState::intent_recorded) {
        return fail(Errc::failed_precondition,
                    what + " is " + to_string((*existing)->state) +
                        ": a result is recorded once per recorded intent");
      }
      const Timestamp now = now_ms();
      std::optional<std::string> code, message;
      if (error) {
        code = dr::to_string(error->code);
        message = error->message;
      }
      auto upd = prepare_(
          "UPDATE job_steps SET state = ?, finished_at = ?, detail = ?, error_code = ?, "
          "error_message = ? WHERE job_id = ? AND name = ?",
          what);
      if (!upd) return upd.error();
      upd->bind(1, to_string(to))
          .bind(2, now)
          .bind(3, detail_json)
          .bind(4, code)
          .bind(5, message)
          .bind(6, job)
          .bind(7, step);
      if (auto s = upd->run(what + ": detail must be JSON"); !s) return s.error();
      return finish_step_write(job, step, now);
    });
  }

  Result<int> purge(Timestamp now) {
    auto del = prepare_("DELETE FROM webhook_keys WHERE expires_at <= ?", "webhook keys");
    if (!del) return del.error();
    del->bind(1, now);
    if (auto s = del->run("webhook keys: purge"); !s) return s.error();
    return sqlite3_changes(db_.get());
  }

  std::mutex mu_;
  DatabaseHandle db_;
  StatementCache statements_{db_.get()};  // finalized before db_ closes (declared after it)
  const std::string path_;
  const std::function<Timestamp()> clock_;
};

// ---- opening and migrating ----------------------------------------------------------------------

// Refuses files that are not drpair state databases, and schemas newer than this build.
Status check_identity(sqlite3* db, const std::string& where, std::size_t known) {
  auto app_id = scalar<std::int64_t>(db, "PRAGMA application_id", where);
  if (!app_id) return app_id.error();
  auto version = scalar<std::int64_t>(db, "PRAGMA user_version", where);
  if (!version) return version.error();
  if (*app_id != 0 && *app_id != kApplicationId) {
    return fail(
        Errc::failed_precondition,
        where + " is not a drpair state database (application_id " + std::to_string(*app_id) + ")");
  }
  if (*app_id == 0) {
    // A fresh file has no tables; one with tables but no drpair mark belongs to someone else.
    auto tables = scalar<std::int64_t>(db, "SELECT count(*) FROM sqlite_schema", where);
    if (!tables) return tables.error();
    if (*tables != 0) {
      return fail(Errc::failed_precondition,
                  where + " is not a drpair state database (it has tables, but no drpair mark)");
    }
  }
  if (*version > static_cast<std::int64_t>(known)) {
    return fail(Errc::failed_precondition,
                where + " has schema version " + std::to_string(*version) + ", newer than the " +
                    std::to_string(known) +
                    " this drpair knows: it was written by a newer drpair; run that version, or "
                    "restore a backup made by this one");
  }
  return {};
}

Status migrate(sqlite3* db, const std::string& where, std::span<const Migration> migrations) {
  for (const Migration& m : migrations) {
    const std::string what = where + ": migration " + std::string(m.name);
    auto tx = Transaction::begin(db, true, what);
    if (!tx) return tx.error();
    // Read inside the write lock: another process may have migrated while this one waited.
    auto version = scalar<std::int64_t>(db, "PRAGMA user_version", what);
    if (!version) return version.error();
    if (*version >= m.version) continue;
    if (*version != m.version - 1) {
      return fail(Errc::internal, what + ": the database is at version " +
                                      std::to_string(*version) + ", not " +
                                      std::to_string(m.version - 1));
    }
    if (auto s = exec(db, std::string(m.sql), what); !s) return s;
    if (auto s = exec(db,
                      "PRAGMA user_version = " + std::to_string(m.version) +
                          "; PRAGMA application_id = " + std::to_string(kApplicationId),
                      what);
        !s) {
      return s;
    }
    if (auto s = tx->commit(what); !s) return s;
  }
  return {};
}

Timestamp system_now() {
  return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

}  // namespace

std::span<const Migration> SqliteStateStore::builtin_migrations() noexcept {
  return generated::kMigrations;
}

Result<std::unique_ptr<StateStore>> SqliteStateStore::open(const std::string& path,
                                                           SqliteOptions options) {
  return open(path, std::move(options), builtin_migrations());
}

Result<std::unique_ptr<StateStore>> SqliteStateStore::open(const std::string& path,
                                                           SqliteOptions options,
                                                           std::span<const Migration> migrations) {
  const std::string where = "state database " + quoted(path);
  sqlite3* raw = nullptr;
  // NOMUTEX: the store serialises calls on its own mutex. EXRESCODE: extended result codes, so a
  // UNIQUE violation is told apart from a CHECK failure.
  const int rc = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
      nullptr);
  DatabaseHandle db(raw);  // sqlite3_open_v2 returns a handle to close even when it fails
  if (rc != SQLITE_OK) return from_sqlite(rc, raw, where + ": open");
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), static_cast<int>(options.busy_timeout.count()));

  // Identity first, read-only: a foreign or newer file is refused before anything is written.
  if (auto s = check_identity(db.get(), where, migrations.size()); !s) return s.error();
  auto check = scalar<std::string>(db.get(), "PRAGMA quick_check", where + ": quick_check");
  if (!check) return check.error();
  if (*check != "ok") return fail(Errc::internal, where + " is corrupt: " + *check);

  auto mode = scalar<std::string>(db.get(), "PRAGMA journal_mode = WAL", where + ": journal_mode");
  if (!mode) return mode.error();
  if (*mode != "wal" && !(path == ":memory:" && *mode == "memory")) {
    return fail(Errc::failed_precondition,
                where + ": cannot use WAL mode (journal_mode is " + *mode + ")");
  }
  if (auto s = exec(db.get(), "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", where); !s) {
    return s.error();
  }
  if (auto s = migrate(db.get(), where, migrations); !s) return s.error();

  auto clock = options.clock ? std::move(options.clock) : std::function<Timestamp()>(system_now);
  return std::unique_ptr<StateStore>(new Store(std::move(db), path, std::move(clock)));
}

}  // namespace dr::state
