-- Idempotency-Key: scoped by route ("exports:KEY", "jobs:KEY"); the hash is of the request body, so the same key
-- with another body is a conflict. Cleared by the retention sweep once the job's results expire.
ALTER TABLE jobs ADD COLUMN idempotency_key TEXT;
ALTER TABLE jobs ADD COLUMN request_hash TEXT;
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;

-- The dataset catalog. A dataset's status, row count and columns come from its import job; its rows live in
-- their own SQLite file (datasets/<id>.sqlite), written by the import worker, never in this database.
CREATE TABLE datasets (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  id         TEXT    NOT NULL UNIQUE,
  name       TEXT    NOT NULL,
  job_id     TEXT    NOT NULL REFERENCES jobs (id),
  created_at INTEGER NOT NULL
);

-- Lets "is an export of this dataset pending or running?" use an index instead of parsing every payload.
CREATE INDEX jobs_active_by_dataset ON jobs (json_extract(payload, '$.dataset_id'))
  WHERE status IN ('pending', 'running');
