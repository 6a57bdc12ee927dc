-- Schedules, as the SQLite store's migration 0009 (see there, and src/engine/schedule.ts): the same tables,
-- columns and meaning. `revision` moves on with every write of a schedule: a run is enqueued only by a
-- compare-and-set of it, in the transaction that inserts the job.
CREATE TABLE schedules (
  id              text    PRIMARY KEY,
  name            text,
  cron            text,
  interval_ms     bigint CHECK (interval_ms >= 1000),
  time_zone       text    NOT NULL,
  kind            text    NOT NULL,
  payload         text    NOT NULL,
  priority        bigint NOT NULL,
  max_attempts    bigint,
  timeout_ms      bigint,
  catch_up        text    NOT NULL CHECK (catch_up IN ('skip', 'once', 'all')),
  overlap         text    NOT NULL CHECK (overlap IN ('allow', 'skip', 'queue-one')),
  paused          boolean NOT NULL,
  next_due_at     bigint,
  queued_due_at   bigint,
  last_due_at     bigint,
  last_job_id     text,
  runs_enqueued   bigint NOT NULL DEFAULT 0,
  runs_skipped    bigint NOT NULL DEFAULT 0,
  anchor_at       bigint NOT NULL,
  revision        bigint NOT NULL,
  created_at      bigint NOT NULL,
  updated_at      bigint NOT NULL,
  CHECK ((cron IS NULL) <> (interval_ms IS NULL))
);
-- "Which schedules are due?": one range each, paused ones left out.
CREATE INDEX schedules_due ON schedules (next_due_at) WHERE NOT paused AND next_due_at IS NOT NULL;
CREATE INDEX schedules_queued ON schedules (queued_due_at) WHERE NOT paused AND queued_due_at IS NOT NULL;
CREATE INDEX schedules_by_created ON schedules (created_at, id);
-- One row per run enqueued: the unique key of (schedule, due time) that makes one job per due time a constraint,
-- whatever the compare-and-set above. The latest runs of each schedule are kept (see ScheduleStore.fire).
CREATE TABLE schedule_runs (
  schedule_id text    NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
  due_at      bigint NOT NULL,
  job_id      text    NOT NULL,
  enqueued_at bigint NOT NULL,
  PRIMARY KEY (schedule_id, due_at)
);
