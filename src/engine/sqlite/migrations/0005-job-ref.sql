-- An optional reference chosen by whoever enqueues a job (an id of their own, e.g. the record the job works on),
-- so that "how many jobs of this reference are still active?" reads an index instead of every payload.
ALTER TABLE jobs ADD COLUMN ref TEXT;
CREATE INDEX jobs_active_by_ref ON jobs (ref) WHERE ref IS NOT NULL AND status IN ('pending', 'running');
