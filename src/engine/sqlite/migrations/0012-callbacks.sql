-- Completion callbacks: a job with a callback_url gets one row in job_deliveries each time it reaches a final status,
-- written by the trigger below in the transaction of that final write — a crash right after it loses no delivery.
-- The deliverer (src/callbacks/) claims due rows with a lease (next_attempt_at moves past the attempt's timeout),
-- and records each attempt in `log`: at-least-once.
ALTER TABLE jobs ADD COLUMN callback_url TEXT;

CREATE TABLE job_deliveries (
  id              TEXT    PRIMARY KEY,
  job_id          TEXT    NOT NULL,
  url             TEXT    NOT NULL,
  -- The final status that caused it: succeeded | failed | cancelled.
  event           TEXT    NOT NULL,
  state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  ended_at        INTEGER,
  -- JSON array of {attempt, at, duration_ms, status_code, error}, oldest first.
  log             TEXT    NOT NULL DEFAULT '[]'
) WITHOUT ROWID;
CREATE INDEX job_deliveries_due ON job_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX job_deliveries_by_job ON job_deliveries (job_id, created_at);

CREATE TRIGGER job_deliveries_enqueue AFTER UPDATE OF status ON jobs
WHEN NEW.callback_url IS NOT NULL AND NEW.status IN ('succeeded', 'failed', 'cancelled')
  AND OLD.status NOT IN ('succeeded', 'failed', 'cancelled')
BEGIN
  INSERT INTO job_deliveries (id, job_id, url, event, next_attempt_at, created_at)
  VALUES (lower(hex(randomblob(16))), NEW.id, NEW.callback_url, NEW.status, NEW.updated_at, NEW.updated_at);
END;

CREATE TRIGGER job_deliveries_forget AFTER DELETE ON jobs BEGIN
  DELETE FROM job_deliveries WHERE job_id = OLD.id;
END;
