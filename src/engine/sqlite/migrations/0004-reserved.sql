-- Version 4 dropped an index that belonged to an application table; that statement now lives in the migrations
-- of the application's own tables. The version stays so that databases created before the split keep in step.
SELECT 1;
