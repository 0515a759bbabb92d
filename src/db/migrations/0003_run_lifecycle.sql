-- What the run lifecycle needs beyond the first version: the queue job, who
-- holds the run, its place in the fair queue, idempotency keys and retention.

ALTER TABLE export_runs
  ADD COLUMN job_id           uuid,
  -- host:pid of the worker process holding the current attempt.
  ADD COLUMN worker           text,
  -- Fair-queue priority: minus the number of the company's runs already waiting when it was created.
  ADD COLUMN queue_priority   integer NOT NULL DEFAULT 0,
  ADD COLUMN idempotency_key  text,
  -- When the file is deleted (set when the run completes).
  ADD COLUMN expires_at       timestamptz;

-- The same user repeating an identical request while it is still open gets that run.
CREATE INDEX export_runs_open ON export_runs (user_id, workflow_id) WHERE state IN ('QUEUED', 'RUNNING');
CREATE UNIQUE INDEX export_runs_idempotency ON export_runs (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The create rate limit counts a user's recent runs.
CREATE INDEX export_runs_user_created ON export_runs (user_id, created_at);
CREATE INDEX export_runs_expiry ON export_runs (expires_at) WHERE file_key IS NOT NULL;
CREATE INDEX export_runs_queued ON export_runs (queue_priority DESC, created_at) WHERE state = 'QUEUED';
