-- Every attempt's outcome, kept when the next attempt starts: the job row holds only the last error.
-- Written by the trigger below whenever a row leaves `running`, so every way an attempt ends is recorded — the
-- owner's outcome, a retry, a graceful release, a recovery by another process — in the same transaction.
CREATE TABLE job_attempts (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id     TEXT    NOT NULL,
  attempt    INTEGER NOT NULL,
  owner      TEXT,
  started_at INTEGER,
  ended_at   INTEGER NOT NULL,
  -- succeeded | failed | cancelled | retried (back to pending to run again) | released (given back at shutdown)
  outcome    TEXT    NOT NULL,
  error      TEXT
);
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
