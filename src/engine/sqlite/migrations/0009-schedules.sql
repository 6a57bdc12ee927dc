-- Schedules (src/engine/schedule.ts): the engine enqueues their jobs itself, on a cron expression read in a time
-- zone or on an interval. `revision` moves on with every write of a row: a process enqueues a run only by a
-- compare-and-set of it, in the transaction that inserts the job, so two processes never both take one due time.
CREATE TABLE schedules (
  id              TEXT    PRIMARY KEY,
  name            TEXT,
  cron            TEXT,
  interval_ms     INTEGER CHECK (interval_ms >= 1000),
  time_zone       TEXT    NOT NULL,
  kind            TEXT    NOT NULL,
  payload         TEXT    NOT NULL,
  priority        INTEGER NOT NULL,
  max_attempts    INTEGER,
  timeout_ms      INTEGER,
  catch_up        TEXT    NOT NULL CHECK (catch_up IN ('skip', 'once', 'all')),
  overlap         TEXT    NOT NULL CHECK (overlap IN ('allow', 'skip', 'queue-one')),
  paused          INTEGER NOT NULL CHECK (paused IN (0, 1)),
  next_due_at     INTEGER,
  queued_due_at   INTEGER,
  last_due_at     INTEGER,
  last_job_id     TEXT,
  runs_enqueued   INTEGER NOT NULL DEFAULT 0,
  runs_skipped    INTEGER NOT NULL DEFAULT 0,
  anchor_at       INTEGER NOT NULL,
  revision        INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  CHECK ((cron IS NULL) <> (interval_ms IS NULL))
);
-- "Which schedules are due?": one range each, paused ones left out.
CREATE INDEX schedules_due ON schedules (next_due_at) WHERE paused = 0 AND next_due_at IS NOT NULL;
CREATE INDEX schedules_queued ON schedules (queued_due_at) WHERE paused = 0 AND queued_due_at IS NOT NULL;
CREATE INDEX schedules_by_created ON schedules (created_at, id);
-- One row per run enqueued: the unique key of (schedule, due time) that makes one job per due time a constraint,
-- whatever the compare-and-set above. The latest runs of each schedule are kept (see ScheduleStore.fire).
CREATE TABLE schedule_runs (
  schedule_id TEXT    NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
  due_at      INTEGER NOT NULL,
  job_id      TEXT    NOT NULL,
  enqueued_at INTEGER NOT NULL,
  PRIMARY KEY (schedule_id, due_at)
) WITHOUT ROWID;
