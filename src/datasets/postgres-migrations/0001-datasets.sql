-- The dataset catalog in PostgreSQL, beside the PostgreSQL job store's tables (its migrations come first). A
-- dataset's status, row count and columns come from its import job; its rows live in their own SQLite file
-- (datasets/<id>.sqlite in the shared data directory), written once by the import worker, never in this database.
CREATE TABLE datasets (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id         text   NOT NULL UNIQUE,
  name       text   NOT NULL,
  job_id     text   NOT NULL REFERENCES jobs (id),
  created_at bigint NOT NULL
);
-- Deleting a job row checks this foreign key: without the index, each deletion would scan the catalog.
CREATE INDEX datasets_by_job ON datasets (job_id);
