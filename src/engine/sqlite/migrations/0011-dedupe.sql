-- Deduplication: a job enqueued with a dedupe key holds it (dedupe_slot) from its insert until it starts
-- (policies `pending`, `latest`) or ends (`active`); while it holds it, an insert of the same kind and key finds it
-- through the unique index instead of adding a row. The slot is only ever cleared, never set again (a job back to
-- pending for a retry does not hold its key again), so no status change can violate the index.
ALTER TABLE jobs ADD COLUMN dedupe_key TEXT;
ALTER TABLE jobs ADD COLUMN dedupe_policy TEXT CHECK (dedupe_policy IN ('pending', 'active', 'latest'));
ALTER TABLE jobs ADD COLUMN dedupe_slot TEXT;
CREATE UNIQUE INDEX jobs_dedupe_slot ON jobs (kind, dedupe_slot) WHERE dedupe_slot IS NOT NULL;

-- A trigger, so that no write of the claim or of an outcome has to know about keys.
CREATE TRIGGER jobs_dedupe_release AFTER UPDATE OF status ON jobs
WHEN NEW.dedupe_slot IS NOT NULL
  AND (NEW.status IN ('succeeded', 'failed', 'cancelled') OR (NEW.status = 'running' AND NEW.dedupe_policy <> 'active'))
BEGIN
  UPDATE jobs SET dedupe_slot = NULL WHERE seq = NEW.seq;
END;
