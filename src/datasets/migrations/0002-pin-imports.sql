-- A dataset reads its status, rows and columns from its import job, and references it: that row must outlive job
-- retention (--job-ttl). New imports are enqueued pinned; these are the ones from before.
UPDATE jobs SET pinned = 1 WHERE id IN (SELECT job_id FROM datasets);

-- Deleting a job row checks this foreign key: without the index, each deletion would scan the catalog.
CREATE INDEX IF NOT EXISTS datasets_by_job ON datasets (job_id);
