-- Each attempt's upload into the export store, recorded when it starts and
-- deleted once the attempt has published or discarded it. A row whose attempt
-- no longer holds its run belongs to an attempt that died (a killed worker):
-- the sweeper discards that upload through the store, without listing the
-- store. No foreign key: the run's record may go before its upload is swept.
CREATE TABLE export_uploads (
  run_id      bigint NOT NULL,
  attempt     integer NOT NULL,
  -- What the store needs to discard the upload (its own format).
  handle      text NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, attempt)
);
