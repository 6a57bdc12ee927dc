-- Keeps "how many jobs of each kind are in each status" exact and O(1) to read, across every process sharing the
-- file: the queue bound (--max-pending) and the metrics read it on each enqueue and scrape, where a count(*) over
-- the pending rows grew with the queue. Triggers fire only when `status` changes (or a row comes or goes).
CREATE TABLE job_counts (
  kind   TEXT    NOT NULL,
  status TEXT    NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (kind, status)
) WITHOUT ROWID;

INSERT INTO job_counts (kind, status, n) SELECT kind, status, count(*) FROM jobs GROUP BY kind, status;

CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
  INSERT INTO job_counts (kind, status, n) VALUES (NEW.kind, NEW.status, 1)
  ON CONFLICT (kind, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER job_counts_update AFTER UPDATE OF status ON jobs WHEN OLD.status IS NOT NEW.status BEGIN
  UPDATE job_counts SET n = n - 1 WHERE kind = OLD.kind AND status = OLD.status;
  INSERT INTO job_counts (kind, status, n) VALUES (NEW.kind, NEW.status, 1)
  ON CONFLICT (kind, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
  UPDATE job_counts SET n = n - 1 WHERE kind = OLD.kind AND status = OLD.status;
END;

-- Pending jobs by due time: the dispatcher's "when is the next one due?" reads the first entry.
CREATE INDEX jobs_pending_due ON jobs (run_at) WHERE status = 'pending';
