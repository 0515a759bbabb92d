-- The SHA-256 of a run's file (lowercase hex), measured by the worker as the
-- file streamed into the store; shown with file_bytes in the run's status.
ALTER TABLE export_runs ADD COLUMN file_sha256 text;
