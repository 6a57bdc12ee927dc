-- Every attempt's outcome, kept when the next attempt starts: the job row holds only the last error. Written by the
-- trigger below whenever a row leaves `running` — the owner's outcome, a retry, a graceful release, a recovery by
-- another node — in the same transaction, so no way of ending an attempt escapes it.
CREATE TABLE job_attempts (
  seq        bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id     text    NOT NULL,
  attempt    integer NOT NULL,
  owner      text,
  started_at bigint,
  ended_at   bigint  NOT NULL,
  -- succeeded | failed | cancelled | retried (back to pending to run again) | released (given back at shutdown)
  outcome    text    NOT NULL,
  error      text
);
CREATE INDEX job_attempts_by_job ON job_attempts (job_id, seq);

CREATE FUNCTION job_attempts_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_attempts (job_id, attempt, owner, started_at, ended_at, outcome, error)
  VALUES (
    OLD.id, OLD.attempts, OLD.owner, OLD.started_at, NEW.updated_at,
    CASE WHEN NEW.attempts < OLD.attempts THEN 'released' WHEN NEW.status = 'pending' THEN 'retried' ELSE NEW.status END,
    CASE WHEN NEW.attempts < OLD.attempts OR NEW.status = 'succeeded' THEN NULL ELSE NEW.error END
  );
  RETURN NULL;
END
$$;
CREATE TRIGGER job_attempts_record AFTER UPDATE OF status ON jobs
  FOR EACH ROW WHEN (OLD.status = 'running' AND NEW.status <> 'running') EXECUTE FUNCTION job_attempts_record();

CREATE FUNCTION job_attempts_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM job_attempts WHERE job_id = OLD.id;
  RETURN NULL;
END
$$;
CREATE TRIGGER job_attempts_forget AFTER DELETE ON jobs FOR EACH ROW EXECUTE FUNCTION job_attempts_forget();
