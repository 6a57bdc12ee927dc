-- The dataset catalog. A dataset's status, row count and columns come from its import job; its rows live in
-- their own SQLite file (datasets/<id>.sqlite), written by the import worker, never in this database.
-- IF NOT EXISTS: databases made before the catalog had migrations of its own already have the table.
CREATE TABLE IF NOT EXISTS datasets (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  id         TEXT    NOT NULL UNIQUE,
  name       TEXT    NOT NULL,
  job_id     TEXT    NOT NULL REFERENCES jobs (id),
  created_at INTEGER NOT NULL
);

-- An expression index over every job's payload, from before jobs had a `ref`; it cost a JSON parse per write.
DROP INDEX IF EXISTS jobs_active_by_dataset;

-- Jobs of a dataset (its import, its exports) carry the dataset's id as their ref; active ones enqueued before
-- refs existed get theirs here, so that deleting a dataset still waits for them.
UPDATE jobs SET ref = lower(json_extract(payload, '$.dataset_id'))
WHERE ref IS NULL AND kind IN ('import', 'export') AND status IN ('pending', 'running');
