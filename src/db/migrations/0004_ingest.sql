-- Ingested records carry the source's updatedAt: an upsert applies a record
-- only if it is newer than the stored one. Rows that exist before this
-- migration have no known version, so any ingested version replaces them
-- ('-infinity'); rows written later without one get the time of writing.
ALTER TABLE teams ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE teams ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE agents ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE agents ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE work_queues ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE work_queues ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE smart_views ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE smart_views ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE campaigns ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE campaigns ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE authors ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE authors ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE posts ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE posts ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE conversation_actions ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE conversation_actions ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE response_approvals ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE response_approvals ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE help_requests ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE help_requests ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE agent_states ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE agent_states ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE brand_posts ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE brand_posts ALTER COLUMN updated_at SET DEFAULT now();
