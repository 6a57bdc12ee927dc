-- The expression index of 0002 was evaluated on every insert and status change, for a question asked only when a
-- dataset is deleted; that query now reads the pending and running rows through jobs_by_status instead.
DROP INDEX jobs_active_by_dataset;
