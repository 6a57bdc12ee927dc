-- How many jobs of each kind are in each status, exact across every node and O(1) to read (the queue bound and the
-- metrics read it at each enqueue and scrape). One counter row per (kind, status) would be a hot row: every claim
-- and outcome of every node would queue on its lock until commit. So each database backend (connection) keeps
-- counters of its own, keyed by pg_backend_pid(): a backend runs one transaction at a time, so no two transactions
-- ever update the same counter row. Readers sum them; fold_job_counts() moves the rows of backends that are gone
-- into backend 0, so their number stays that of the live connections.
CREATE TABLE job_counts (
  kind    text    NOT NULL,
  status  text    NOT NULL,
  backend integer NOT NULL,
  n       bigint  NOT NULL,
  PRIMARY KEY (kind, status, backend)
);

-- plpgsql, statements written out: their plans are cached per connection (a LANGUAGE sql helper called from here
-- was planned again at every call, and doubled the cost of a claim).
CREATE FUNCTION job_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO job_counts (kind, status, backend, n) VALUES (OLD.kind, OLD.status, pg_backend_pid(), -1)
    ON CONFLICT (kind, status, backend) DO UPDATE SET n = job_counts.n - 1;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    INSERT INTO job_counts (kind, status, backend, n) VALUES (NEW.kind, NEW.status, pg_backend_pid(), 1)
    ON CONFLICT (kind, status, backend) DO UPDATE SET n = job_counts.n + 1;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER job_counts_insert_delete AFTER INSERT OR DELETE ON jobs
  FOR EACH ROW EXECUTE FUNCTION job_counts_track();
CREATE TRIGGER job_counts_update AFTER UPDATE OF status ON jobs
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION job_counts_track();

-- Sum-preserving: the rows of gone backends are deleted and added to backend 0 in one statement. Two nodes folding
-- at once: the second's DELETE waits for the first's and then skips the rows it removed.
CREATE FUNCTION fold_job_counts() RETURNS void LANGUAGE sql AS $$
  WITH gone AS (
    DELETE FROM job_counts
    WHERE backend <> 0 AND backend NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
    RETURNING kind, status, n
  )
  INSERT INTO job_counts (kind, status, backend, n)
  SELECT kind, status, 0, sum(n) FROM gone GROUP BY kind, status ORDER BY kind, status
  ON CONFLICT (kind, status, backend) DO UPDATE SET n = job_counts.n + excluded.n
$$;
