-- Ingested records carry the source's updatedAt: an upsert applies a record
-- only if it is at least as new as the stored one.
ALTER TABLE teams                ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE agents               ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE work_queues          ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE smart_views          ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE campaigns            ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE authors              ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE posts                ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE conversation_actions ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE response_approvals   ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE help_requests        ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE agent_states         ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE brand_posts          ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
