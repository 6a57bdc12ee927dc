-- Completion callbacks, as SQLite's migration 0012: one job_deliveries row each time a job with a callback_url
-- reaches a final status, written by the trigger in the transaction of that final write.
ALTER TABLE jobs ADD COLUMN callback_url text;

CREATE TABLE job_deliveries (
  id              text    PRIMARY KEY,
  job_id          text    NOT NULL,
  url             text    NOT NULL,
  event           text    NOT NULL,
  state           text    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at bigint  NOT NULL,
  created_at      bigint  NOT NULL,
  ended_at        bigint,
  -- JSON text: an array of {attempt, at, duration_ms, status_code, error}, oldest first.
  log             text    NOT NULL DEFAULT '[]'
);
CREATE INDEX job_deliveries_due ON job_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX job_deliveries_by_job ON job_deliveries (job_id, created_at);

CREATE FUNCTION job_deliveries_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_deliveries (id, job_id, url, event, next_attempt_at, created_at)
  VALUES (replace(gen_random_uuid()::text, '-', ''), NEW.id, NEW.callback_url, NEW.status, NEW.updated_at, NEW.updated_at);
  RETURN NULL;
END
$$;
CREATE TRIGGER job_deliveries_enqueue AFTER UPDATE OF status ON jobs
  FOR EACH ROW WHEN (NEW.callback_url IS NOT NULL AND NEW.status IN ('succeeded', 'failed', 'cancelled')
                     AND OLD.status NOT IN ('succeeded', 'failed', 'cancelled'))
  EXECUTE FUNCTION job_deliveries_enqueue();

CREATE FUNCTION job_deliveries_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM job_deliveries WHERE job_id = OLD.id;
  RETURN NULL;
END
$$;
CREATE TRIGGER job_deliveries_forget AFTER DELETE ON jobs FOR EACH ROW EXECUTE FUNCTION job_deliveries_forget();
