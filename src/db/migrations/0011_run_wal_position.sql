-- The primary's WAL position when the run was created: a read replica serves
-- the run only once it has replayed past it, so the export holds every row
-- ingested before the run.
ALTER TABLE export_runs ADD COLUMN created_lsn pg_lsn;
