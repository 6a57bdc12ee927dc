-- The PostgreSQL store's own migrations (the SQLite store has its own set): the same tables, columns and meaning.
-- The queue is this table: pending rows wait here, claimed in priority, run_at, then seq (creation) order with
-- FOR UPDATE SKIP LOCKED. Times are epoch milliseconds (bigint); JSON columns hold JSON.stringify text, read back
-- with JSON.parse, exactly as on SQLite (jsonb would reorder keys and cost a parse on every write).
CREATE TABLE jobs (
  seq              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id               text    NOT NULL UNIQUE,
  kind             text    NOT NULL,
  status           text    NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
  payload          text    NOT NULL,
  priority         integer NOT NULL DEFAULT 0,
  run_at           bigint  NOT NULL,
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
  timeout_ms       bigint,
  owner            text,
  lease_expires_at bigint,
  cancel_requested boolean NOT NULL DEFAULT false,
  progress_done    bigint,
  progress_total   bigint,
  result           text,
  error            text,
  created_at       bigint  NOT NULL,
  started_at       bigint,
  finished_at      bigint,
  updated_at       bigint  NOT NULL,
  -- Idempotency-Key: scoped by the caller; the hash is of the request (same key, other request: a conflict).
  idempotency_key  text,
  request_hash     text,
  -- The caller's own reference (e.g. the dataset a job works on): "how many are still active?" reads an index.
  ref              text,
  -- Kept by job retention however old (a row another table references).
  pinned           boolean NOT NULL DEFAULT false,
  -- A running job always has an owner and a lease; no other status has either.
  CHECK ((status = 'running') = (owner IS NOT NULL AND lease_expires_at IS NOT NULL))
);

CREATE INDEX jobs_claim_by_kind ON jobs (kind, priority DESC, run_at, seq) WHERE status = 'pending';
CREATE INDEX jobs_due_by_kind ON jobs (kind, run_at) WHERE status = 'pending';
CREATE INDEX jobs_running_by_owner ON jobs (owner, lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_by_status ON jobs (status, seq);
CREATE INDEX jobs_by_kind ON jobs (kind, seq);
CREATE INDEX jobs_by_kind_status ON jobs (kind, status, seq);
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_active_by_ref ON jobs (ref) WHERE ref IS NOT NULL AND status IN ('pending', 'running');
CREATE INDEX jobs_expirable ON jobs (finished_at) WHERE status IN ('succeeded', 'failed', 'cancelled') AND NOT pinned;

-- One row per live engine process (node), so that recovery can tell a dead owner from a slow one.
CREATE TABLE owners (
  id           text    PRIMARY KEY,
  hostname     text    NOT NULL,
  pid          integer NOT NULL,
  started_at   bigint  NOT NULL,
  heartbeat_at bigint  NOT NULL
);
