-- Deduplication, as SQLite's migration 0011: a job holds its dedupe key (dedupe_slot) from its insert until it starts
-- (policies `pending`, `latest`) or ends (`active`); the unique index makes a second insert of the kind and key
-- conflict while it does. The slot is only ever cleared, so no status change can violate the index.
ALTER TABLE jobs ADD COLUMN dedupe_key text;
ALTER TABLE jobs ADD COLUMN dedupe_policy text CHECK (dedupe_policy IN ('pending', 'active', 'latest'));
ALTER TABLE jobs ADD COLUMN dedupe_slot text;
CREATE UNIQUE INDEX jobs_dedupe_slot ON jobs (kind, dedupe_slot) WHERE dedupe_slot IS NOT NULL;

-- BEFORE: the row the claim or outcome writes (and returns) already has its slot cleared.
CREATE FUNCTION jobs_dedupe_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IN ('succeeded', 'failed', 'cancelled') OR (NEW.status = 'running' AND NEW.dedupe_policy <> 'active') THEN
    NEW.dedupe_slot := NULL;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER jobs_dedupe_release BEFORE UPDATE OF status ON jobs
  FOR EACH ROW WHEN (NEW.dedupe_slot IS NOT NULL) EXECUTE FUNCTION jobs_dedupe_release();
