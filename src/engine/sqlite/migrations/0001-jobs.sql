-- The queue is this table: pending rows wait here, ordered by priority, run_at, then seq (creation order).
-- Times are epoch milliseconds. JSON columns hold text produced by JSON.stringify.
CREATE TABLE jobs (
  seq              INTEGER PRIMARY KEY AUTOINCREMENT,
  id               TEXT    NOT NULL UNIQUE,
  kind             TEXT    NOT NULL,
  status           TEXT    NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
  payload          TEXT    NOT NULL,
  priority         INTEGER NOT NULL DEFAULT 0,
  run_at           INTEGER NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  max_attempts     INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
  timeout_ms       INTEGER,
  owner            TEXT,
  lease_expires_at INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  progress_done    INTEGER,
  progress_total   INTEGER,
  result           TEXT,
  error            TEXT,
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  updated_at       INTEGER NOT NULL,
  -- A running job always has an owner and a lease; no other status has either.
  CHECK ((status = 'running') = (owner IS NOT NULL AND lease_expires_at IS NOT NULL))
);

CREATE INDEX jobs_claim_order ON jobs (priority DESC, run_at, seq) WHERE status = 'pending';
CREATE INDEX jobs_running_by_owner ON jobs (owner, lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_by_status ON jobs (status, seq);
CREATE INDEX jobs_by_kind ON jobs (kind, seq);

-- One row per live engine process, so that a restart can tell a dead owner from a slow one.
CREATE TABLE owners (
  id           TEXT    PRIMARY KEY,
  hostname     TEXT    NOT NULL,
  pid          INTEGER NOT NULL,
  started_at   INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL
);
