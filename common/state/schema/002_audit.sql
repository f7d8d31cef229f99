-- The audit trail (README, "Audit"): every request an agent answered that changed something or
-- was refused, with who asked and what came of it. Pruned by age (audit.retentionDays).
CREATE TABLE audit (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  caller_kind TEXT    NOT NULL,
  caller      TEXT    NOT NULL,
  method      TEXT    NOT NULL,
  path        TEXT    NOT NULL,
  status      INTEGER NOT NULL,
  job_id      INTEGER,
  message     TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_by_time ON audit (at);
