-- Idempotency-Key: scoped by the caller (e.g. per route); the hash is of the request, so the same key with another
-- request is a conflict. Cleared once the job's results expire.
ALTER TABLE jobs ADD COLUMN idempotency_key TEXT;
ALTER TABLE jobs ADD COLUMN request_hash TEXT;
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
