-- Control plane: companies, API users and their permissions, export runs.

CREATE TABLE companies (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key          text NOT NULL UNIQUE CHECK (key ~ '^[A-Za-z0-9_.-]{1,64}$'),
  name         text NOT NULL,
  -- IANA zone used for business hours.
  timezone     text NOT NULL DEFAULT 'UTC',
  -- How timestamps are written in export files when the request names no locale.
  time_format  text NOT NULL DEFAULT 'ISO_8601' CHECK (time_format IN ('ISO_8601', 'EPOCH_MILLIS')),
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- Weekly schedule in the company's zone; minutes since local midnight, end exclusive.
CREATE TABLE business_hours (
  company_id   bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  iso_dow      smallint NOT NULL CHECK (iso_dow BETWEEN 1 AND 7),
  start_minute smallint NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
  end_minute   smallint NOT NULL CHECK (end_minute BETWEEN 1 AND 1440),
  PRIMARY KEY (company_id, iso_dow, start_minute),
  CHECK (start_minute < end_minute)
);

CREATE TABLE holidays (
  company_id   bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  day          date NOT NULL,
  name         text NOT NULL DEFAULT '',
  PRIMARY KEY (company_id, day)
);

CREATE TABLE api_users (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  company_id    bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  -- Basic auth carries no company, so a username is unique across the service.
  username      text NOT NULL UNIQUE CHECK (username ~ '^[^:\s]{1,128}$'),
  password_hash text NOT NULL,
  enabled       boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_permissions (
  user_id     bigint NOT NULL REFERENCES api_users ON DELETE CASCADE,
  permission  text NOT NULL CHECK (permission IN ('ANALYTICS_REPORTS_API', 'INGEST')),
  granted_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, permission)
);

-- Keys shared by every API node and worker (token and URL signing).
CREATE TABLE service_secrets (
  name        text PRIMARY KEY,
  secret      bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE export_runs (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  company_id      bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  user_id         bigint NOT NULL REFERENCES api_users ON DELETE CASCADE,
  run_id          text NOT NULL UNIQUE,
  workflow_id     uuid NOT NULL,
  export_id       text NOT NULL,
  -- The validated, canonical request the worker executes.
  request         jsonb NOT NULL,
  state           text NOT NULL DEFAULT 'QUEUED'
                  CHECK (state IN ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED')),
  reason          text,
  -- Fencing token: bumped each time a worker takes the run; only the holder of
  -- the current attempt may report progress or publish the file.
  attempt         integer NOT NULL DEFAULT 0,
  current_count   bigint,
  total_count     bigint,
  last_ack_at     timestamptz,
  file_key        text,
  file_bytes      bigint,
  created_at      timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  finished_at     timestamptz
);
CREATE INDEX export_runs_company_created ON export_runs (company_id, created_at DESC);
CREATE INDEX export_runs_workflow ON export_runs (company_id, workflow_id);
