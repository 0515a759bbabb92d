-- Care data. Every table is keyed by company first so that it can be
-- distributed by company_id; ids are the source system's ids.

CREATE TABLE teams (
  company_id   bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  team_id      bigint NOT NULL,
  uuid         uuid NOT NULL,
  name         text NOT NULL,
  description  text,
  enabled      boolean NOT NULL DEFAULT true,
  PRIMARY KEY (company_id, team_id)
);

CREATE TABLE agents (
  company_id   bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  agent_id     bigint NOT NULL,
  display_id   text NOT NULL,
  name         text NOT NULL,
  email        text NOT NULL,
  role         text NOT NULL,
  enabled      boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (company_id, agent_id)
);

CREATE TABLE team_members (
  company_id   bigint NOT NULL,
  team_id      bigint NOT NULL,
  agent_id     bigint NOT NULL,
  PRIMARY KEY (company_id, team_id, agent_id),
  FOREIGN KEY (company_id, team_id) REFERENCES teams ON DELETE CASCADE,
  FOREIGN KEY (company_id, agent_id) REFERENCES agents ON DELETE CASCADE
);
CREATE INDEX team_members_agent ON team_members (company_id, agent_id);

CREATE TABLE work_queues (
  company_id    bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  workqueue_id  bigint NOT NULL,
  name          text NOT NULL,
  PRIMARY KEY (company_id, workqueue_id)
);

-- A named, stored filter over conversations. `filter` holds any of:
-- {"networks":[..], "priorities":[..], "workqueueIds":[..], "tags":[..], "businessHours": true|false}
CREATE TABLE smart_views (
  company_id     bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  smart_view_id  bigint NOT NULL,
  name           text NOT NULL,
  filter         jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (company_id, smart_view_id)
);

CREATE TABLE campaigns (
  company_id   bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  campaign_id  bigint NOT NULL,
  name         text NOT NULL,
  PRIMARY KEY (company_id, campaign_id)
);

CREATE TABLE authors (
  company_id      bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  author_id       bigint NOT NULL,
  handle          text NOT NULL,
  display_name    text NOT NULL,
  network         text NOT NULL,
  follower_count  integer NOT NULL DEFAULT 0,
  first_seen_at   timestamptz NOT NULL,
  PRIMARY KEY (company_id, author_id)
);

CREATE TABLE conversations (
  company_id         bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  conversation_id    bigint NOT NULL,
  display_id         text NOT NULL,
  network            text NOT NULL,
  status             text NOT NULL CHECK (status IN ('OPEN', 'PENDING', 'CLOSED')),
  priority           smallint NOT NULL CHECK (priority BETWEEN 0 AND 5),
  workqueue_id       bigint,
  assigned_agent_id  bigint,
  team_id            bigint,
  author_id          bigint NOT NULL,
  created_at         timestamptz NOT NULL,
  first_assigned_at  timestamptz,
  first_response_at  timestamptz,
  closed_at          timestamptz,
  -- Time agents spent working the conversation.
  handle_time_ms     bigint,
  reopen_count       integer NOT NULL DEFAULT 0,
  tags               text[] NOT NULL DEFAULT '{}',
  sentiment          text CHECK (sentiment IN ('POSITIVE', 'NEUTRAL', 'NEGATIVE')),
  survey_score       smallint CHECK (survey_score BETWEEN 1 AND 5),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (company_id, conversation_id)
);
CREATE INDEX conversations_created ON conversations (company_id, created_at);
CREATE INDEX conversations_closed ON conversations (company_id, closed_at);

CREATE TABLE posts (
  company_id        bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  post_id           bigint NOT NULL,
  conversation_id   bigint NOT NULL,
  post_type         text NOT NULL CHECK (post_type IN ('INCOMING', 'RESPONSE')),
  author_id         bigint,
  agent_id          bigint,
  posted_at         timestamptz NOT NULL,
  language          text,
  sentiment         text CHECK (sentiment IN ('POSITIVE', 'NEUTRAL', 'NEGATIVE')),
  content           text NOT NULL,
  approval_status   text CHECK (approval_status IN ('NOT_REQUIRED', 'APPROVED', 'REJECTED', 'PENDING')),
  PRIMARY KEY (company_id, post_id)
);
CREATE INDEX posts_conversation ON posts (company_id, conversation_id);
CREATE INDEX posts_time ON posts (company_id, posted_at);

CREATE TABLE conversation_actions (
  company_id       bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  action_id        bigint NOT NULL,
  conversation_id  bigint NOT NULL,
  action_type      text NOT NULL CHECK (action_type IN
                   ('CREATED', 'ASSIGNED', 'RESPONDED', 'TAGGED', 'PRIORITY_CHANGED', 'QUEUE_CHANGED', 'CLOSED', 'REOPENED')),
  action_time      timestamptz NOT NULL,
  agent_id         bigint,
  team_id          bigint,
  workqueue_id     bigint,
  priority         smallint,
  detail           text,
  PRIMARY KEY (company_id, action_id)
);
CREATE INDEX conversation_actions_time ON conversation_actions (company_id, action_time);
CREATE INDEX conversation_actions_conversation ON conversation_actions (company_id, conversation_id, action_time);

CREATE TABLE response_approvals (
  company_id           bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  approval_id          bigint NOT NULL,
  response_id          bigint NOT NULL,
  conversation_id      bigint NOT NULL,
  submitting_agent_id  bigint NOT NULL,
  reviewer_agent_id    bigint,
  team_id              bigint,
  submitted_at         timestamptz NOT NULL,
  decision             text NOT NULL CHECK (decision IN ('APPROVED', 'REJECTED', 'PENDING')),
  decision_at          timestamptz,
  PRIMARY KEY (company_id, approval_id)
);
CREATE INDEX response_approvals_time ON response_approvals (company_id, submitted_at);

CREATE TABLE help_requests (
  company_id           bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  help_request_id      bigint NOT NULL,
  conversation_id      bigint NOT NULL,
  requesting_agent_id  bigint NOT NULL,
  expert_agent_id      bigint,
  status               text NOT NULL CHECK (status IN ('OPEN', 'ANSWERED', 'CANCELED')),
  requested_at         timestamptz NOT NULL,
  answered_at          timestamptz,
  PRIMARY KEY (company_id, help_request_id)
);
CREATE INDEX help_requests_time ON help_requests (company_id, requested_at);

CREATE TABLE agent_states (
  company_id   bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  agent_id     bigint NOT NULL,
  device       text NOT NULL CHECK (device IN ('CONSOLE', 'MOBILE')),
  started_at   timestamptz NOT NULL,
  ended_at     timestamptz NOT NULL,
  state        text NOT NULL CHECK (state IN ('GREEN', 'YELLOW', 'RED', 'OFFLINE')),
  PRIMARY KEY (company_id, agent_id, device, started_at),
  CHECK (started_at < ended_at)
);
CREATE INDEX agent_states_time ON agent_states (company_id, started_at);

CREATE TABLE brand_posts (
  company_id       bigint NOT NULL REFERENCES companies ON DELETE CASCADE,
  post_id          bigint NOT NULL,
  campaign_id      bigint,
  network          text NOT NULL,
  account_handle   text NOT NULL,
  author_agent_id  bigint,
  scheduled_at     timestamptz,
  published_at     timestamptz,
  status           text NOT NULL CHECK (status IN ('DRAFT', 'SCHEDULED', 'PUBLISHED', 'FAILED')),
  content          text NOT NULL,
  link             text,
  impressions      bigint NOT NULL DEFAULT 0,
  engagements      bigint NOT NULL DEFAULT 0,
  likes            bigint NOT NULL DEFAULT 0,
  shares           bigint NOT NULL DEFAULT 0,
  comments         bigint NOT NULL DEFAULT 0,
  clicks           bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (company_id, post_id)
);
CREATE INDEX brand_posts_published ON brand_posts (company_id, published_at);

-- True when `ts` falls inside the company's weekly business hours, read in the
-- company's zone, and not on one of its holidays.
CREATE FUNCTION care_in_business_hours(p_company bigint, p_ts timestamptz) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT EXISTS (
    SELECT 1
    FROM companies co
    CROSS JOIN LATERAL (SELECT p_ts AT TIME ZONE co.timezone AS t) l
    JOIN business_hours bh
      ON bh.company_id = co.id
     AND bh.iso_dow = extract(isodow FROM l.t)
     AND extract(hour FROM l.t) * 60 + extract(minute FROM l.t) >= bh.start_minute
     AND extract(hour FROM l.t) * 60 + extract(minute FROM l.t) < bh.end_minute
    WHERE co.id = p_company
      AND NOT EXISTS (SELECT 1 FROM holidays h WHERE h.company_id = co.id AND h.day = l.t::date)
  )
$$;
