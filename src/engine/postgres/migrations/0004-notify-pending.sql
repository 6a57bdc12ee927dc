-- Wake-ups: every way a job becomes claimable (inserted; back to pending by a retry, a release, a recovery) sends a
-- NOTIFY on channel offload_jobs, delivered to every listening node when the transaction commits (several in one
-- transaction are folded into one). Nodes then claim at once instead of polling; their slow poll remains the
-- safety net for a notification lost with a broken connection, and for run_at reached later.
CREATE FUNCTION jobs_notify_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('offload_jobs', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
  FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify_pending();
CREATE TRIGGER jobs_notify_pending AFTER UPDATE OF status ON jobs
  FOR EACH ROW WHEN (NEW.status = 'pending' AND OLD.status <> 'pending') EXECUTE FUNCTION jobs_notify_pending();
