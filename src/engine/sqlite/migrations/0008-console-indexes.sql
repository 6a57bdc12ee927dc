-- The console's reads, each one index range:
-- "what changed since the last look?" (the event stream's poll for writes of other processes), oldest first;
CREATE INDEX jobs_by_updated ON jobs (updated_at, seq);
-- a dataset's (or any ref's) jobs, finished ones included, newest first (jobs_active_by_ref holds active ones only);
CREATE INDEX jobs_by_ref ON jobs (ref, seq) WHERE ref IS NOT NULL;
-- jobs finished in a time range, pinned ones included (jobs_expirable leaves those out): the per-minute stats.
CREATE INDEX jobs_by_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
