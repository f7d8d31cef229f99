-- drpair state store, schema version 1: apps, description versions, mirror pairs, jobs with their
-- step journal, webhook keys. Applied in one transaction by SqliteStateStore::open; the store sets
-- PRAGMA user_version to this file's number afterwards. Never edit a released migration: add the
-- next numbered file instead.
--
-- Times are Unix milliseconds (INTEGER). Enumerations are stored as their snake_case names and
-- checked by the C++ code when read, not by CHECK constraints, because SQLite can only change a
-- CHECK by rebuilding the table, and a new job type or state should not need that.
-- JSON columns are checked with json_valid() (built into SQLite since 3.38).

CREATE TABLE apps (
  id                 TEXT    NOT NULL PRIMARY KEY CHECK (length(id) > 0),
  role               TEXT    NOT NULL,
  state              TEXT    NOT NULL,
  generation         INTEGER NOT NULL CHECK (generation >= 0),
  peer_site          TEXT    NOT NULL,
  version            INTEGER NOT NULL CHECK (version >= 1),
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  last_error_code    TEXT,
  last_error_message TEXT
) STRICT;

-- Every version of every description, immutable once written.
CREATE TABLE descriptions (
  app_id     TEXT    NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  kind       TEXT    NOT NULL,
  generation INTEGER NOT NULL CHECK (generation >= 0),
  document   TEXT    NOT NULL CHECK (json_valid(document)),
  stored_at  INTEGER NOT NULL,
  PRIMARY KEY (app_id, kind, generation)
) STRICT, WITHOUT ROWID;

CREATE TABLE mirror_pairs (
  app_id            TEXT    NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  source_pool       TEXT    NOT NULL,
  source_image      TEXT    NOT NULL,
  target_pool       TEXT    NOT NULL,
  target_image      TEXT    NOT NULL,
  mode              TEXT    NOT NULL,
  interval_minutes  INTEGER NOT NULL CHECK (interval_minutes > 0),
  status            TEXT    NOT NULL DEFAULT '',
  last_sync_at      INTEGER,
  lag_seconds       INTEGER,
  status_checked_at INTEGER,
  PRIMARY KEY (app_id, source_pool, source_image),
  UNIQUE (app_id, target_pool, target_image)
) STRICT;

-- Jobs are history: they do not reference apps, so removing an app keeps its jobs, and a
-- register_replica job can exist before its app does. AUTOINCREMENT: an id is never reused.
CREATE TABLE jobs (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  app_id          TEXT    NOT NULL CHECK (length(app_id) > 0),
  type            TEXT    NOT NULL,
  state           TEXT    NOT NULL,
  idempotency_key TEXT    UNIQUE,
  request         TEXT    NOT NULL CHECK (json_valid(request)),
  current_step    TEXT    NOT NULL DEFAULT '',
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  error_code      TEXT,
  error_message   TEXT
) STRICT;
CREATE INDEX jobs_by_app ON jobs (app_id, id);
-- Two jobs never drive one app at once (the store checks first and says why; this is the backstop).
CREATE UNIQUE INDEX jobs_one_unfinished_per_app ON jobs (app_id)
  WHERE state IN ('pending', 'running');

CREATE TABLE job_steps (
  job_id        INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  seq           INTEGER NOT NULL CHECK (seq >= 1),
  name          TEXT    NOT NULL CHECK (length(name) > 0),
  state         TEXT    NOT NULL,
  attempts      INTEGER NOT NULL CHECK (attempts >= 1),
  started_at    INTEGER NOT NULL,
  finished_at   INTEGER,
  detail        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
  error_code    TEXT,
  error_message TEXT,
  PRIMARY KEY (job_id, seq),
  UNIQUE (job_id, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE webhook_keys (
  key         TEXT    NOT NULL PRIMARY KEY,
  received_at INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX webhook_keys_by_expiry ON webhook_keys (expires_at);
