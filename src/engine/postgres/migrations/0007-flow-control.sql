-- Flow control (see src/engine/flow-claim.ts). A job's optional group key (a tenant, say): jobs with keys are
-- claimed round-robin across keys, and --group-limit caps the running jobs of each key.
ALTER TABLE jobs ADD COLUMN group_key text;

-- The keys of a kind's pending jobs, read as a loose scan (one seek per key), and each key's jobs in claim
-- order. Partial: rows without a key stay in jobs_claim_by_kind only.
CREATE INDEX jobs_claim_by_group ON jobs (kind, group_key, priority DESC, run_at, seq)
  WHERE status = 'pending' AND group_key IS NOT NULL;
-- Running jobs of a key: at most the threads of every node, so counting them is cheap.
CREATE INDEX jobs_running_by_group ON jobs (group_key) WHERE status = 'running' AND group_key IS NOT NULL;

-- The start log of the rate limits: one row per start of a rate-limited kind or key (scope 'kind:<kind>' or
-- 'group:<key>'), pruned of rows older than the interval as the scope is claimed from again. Written only under
-- the scope's advisory lock (see postgres/flow-sql.ts), so counts read under it are exact.
CREATE TABLE flow_starts (
  scope      text   NOT NULL,
  started_at bigint NOT NULL
);
CREATE INDEX flow_starts_by_scope ON flow_starts (scope, started_at);
