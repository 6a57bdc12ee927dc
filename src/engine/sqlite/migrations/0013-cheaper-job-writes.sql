-- Each row write of a job costs one entry per index and trigger statement, and a no-op job writes its row three
-- times (insert, claim, outcome). Measured (CPU time per job, 6,000 jobs, batches of 16): 145 µs before, 112 µs
-- after the two changes below.
--
-- 1. job_attempts without AUTOINCREMENT: every attempt's insert also rewrote its sqlite_sequence row. Plain rowids
--    are max(rowid) + 1, so a job's attempts still come in order of seq (a reused rowid is above every row left).
DROP TRIGGER job_attempts_record;
DROP TRIGGER job_attempts_forget;
CREATE TABLE job_attempts_new (
  seq        INTEGER PRIMARY KEY,
  job_id     TEXT    NOT NULL,
  attempt    INTEGER NOT NULL,
  owner      TEXT,
  started_at INTEGER,
  ended_at   INTEGER NOT NULL,
  -- succeeded | failed | cancelled | retried (back to pending to run again) | released (given back at shutdown)
  outcome    TEXT    NOT NULL,
  error      TEXT
);
INSERT INTO job_attempts_new (seq, job_id, attempt, owner, started_at, ended_at, outcome, error)
  SELECT seq, job_id, attempt, owner, started_at, ended_at, outcome, error FROM job_attempts;
DROP TABLE job_attempts;
ALTER TABLE job_attempts_new RENAME TO job_attempts;
CREATE INDEX job_attempts_by_job ON job_attempts (job_id, seq);

CREATE TRIGGER job_attempts_record AFTER UPDATE OF status ON jobs
WHEN OLD.status = 'running' AND NEW.status <> 'running' BEGIN
  INSERT INTO job_attempts (job_id, attempt, owner, started_at, ended_at, outcome, error)
  VALUES (
    OLD.id, OLD.attempts, OLD.owner, OLD.started_at, NEW.updated_at,
    CASE WHEN NEW.attempts < OLD.attempts THEN 'released' WHEN NEW.status = 'pending' THEN 'retried' ELSE NEW.status END,
    CASE WHEN NEW.attempts < OLD.attempts OR NEW.status = 'succeeded' THEN NULL ELSE NEW.error END
  );
END;

CREATE TRIGGER job_attempts_forget AFTER DELETE ON jobs BEGIN
  DELETE FROM job_attempts WHERE job_id = OLD.id;
END;

-- 2. Retention reads jobs_by_finished (every row with a finished_at, pinned ones too: it skips those), so
--    jobs_expirable, a second index written at each job's end, goes.
DROP INDEX jobs_expirable;
