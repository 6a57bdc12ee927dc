-- Claims and "when is the next one due?" look up each kind on its own: the indexes they replace began with
-- priority and run_at, so behind a backlog of a kind this process does not run, each claim walked every row of it.
CREATE INDEX jobs_claim_by_kind ON jobs (kind, priority DESC, run_at, seq) WHERE status = 'pending';
CREATE INDEX jobs_due_by_kind ON jobs (kind, run_at) WHERE status = 'pending';
DROP INDEX jobs_claim_order;
DROP INDEX jobs_pending_due;

-- Lists filtered by kind and status, newest first (kind alone and status alone have jobs_by_kind, jobs_by_status).
CREATE INDEX jobs_by_kind_status ON jobs (kind, status, seq);

-- Retention: finished rows are deleted once older than the job TTL, oldest first, unless pinned (a row another
-- table references, or one its application wants to keep).
ALTER TABLE jobs ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));
CREATE INDEX jobs_expirable ON jobs (finished_at)
  WHERE status IN ('succeeded', 'failed', 'cancelled') AND pinned = 0;
