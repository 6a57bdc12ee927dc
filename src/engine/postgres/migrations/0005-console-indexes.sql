-- The console's reads (as the SQLite store's migration 0008): changes in (updated_at, seq) order for the one event
-- stream, a dataset's jobs newest first, and finishes per minute.
CREATE INDEX jobs_by_updated ON jobs (updated_at, seq);
CREATE INDEX jobs_by_ref ON jobs (ref, seq) WHERE ref IS NOT NULL;
CREATE INDEX jobs_by_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
