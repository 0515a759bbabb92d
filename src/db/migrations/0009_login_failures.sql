-- Failed logins, counted per subject ('user:<username>' or 'address:<client address>')
-- in a fixed window that starts with the subject's first failure, so that
-- every API process refuses the same guesser. Ended windows are deleted by
-- whichever API process notices them first.
CREATE TABLE login_failures (
  subject text PRIMARY KEY,
  window_start timestamptz NOT NULL,
  failures integer NOT NULL
);
CREATE INDEX login_failures_window_start ON login_failures (window_start);
