-- API processes keep closed runs in memory (their status is polled hardest).
-- A closed run changes only when the sweep expires its file or deletes its
-- record; each such change is announced on commit, with the run's id, so that
-- each process forgets that run. Updates of open runs (progress, closing) are
-- not announced.
CREATE FUNCTION notify_closed_run_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('care_closed_run_changed', OLD.id::text);
  RETURN NULL;
END $$;

CREATE TRIGGER closed_run_changed AFTER UPDATE OR DELETE ON export_runs
  FOR EACH ROW WHEN (OLD.state IN ('COMPLETED', 'FAILED', 'CANCELED')) EXECUTE FUNCTION notify_closed_run_changed();

-- A truncate forgets every run (an empty payload).
CREATE FUNCTION notify_closed_runs_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('care_closed_run_changed', '');
  RETURN NULL;
END $$;

CREATE TRIGGER closed_runs_truncated AFTER TRUNCATE ON export_runs
  FOR EACH STATEMENT EXECUTE FUNCTION notify_closed_runs_truncated();
