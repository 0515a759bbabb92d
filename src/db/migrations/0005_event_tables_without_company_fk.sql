-- The event tables (authors, conversations and what hangs off them, agent
-- states, brand posts) take millions of rows per company through bulk import.
-- A foreign key to companies made PostgreSQL check and lock the company row
-- for every inserted row: about a quarter of the insert time of posts. Their
-- company_id is never taken from a record (it is the caller's company), so the
-- key protected nothing on insert; what it did on delete, removing a
-- company's rows, a trigger on companies does now.
ALTER TABLE authors DROP CONSTRAINT authors_company_id_fkey;
ALTER TABLE conversations DROP CONSTRAINT conversations_company_id_fkey;
ALTER TABLE posts DROP CONSTRAINT posts_company_id_fkey;
ALTER TABLE conversation_actions DROP CONSTRAINT conversation_actions_company_id_fkey;
ALTER TABLE response_approvals DROP CONSTRAINT response_approvals_company_id_fkey;
ALTER TABLE help_requests DROP CONSTRAINT help_requests_company_id_fkey;
ALTER TABLE agent_states DROP CONSTRAINT agent_states_company_id_fkey;
ALTER TABLE brand_posts DROP CONSTRAINT brand_posts_company_id_fkey;

CREATE FUNCTION delete_company_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM authors WHERE company_id = OLD.id;
  DELETE FROM conversations WHERE company_id = OLD.id;
  DELETE FROM posts WHERE company_id = OLD.id;
  DELETE FROM conversation_actions WHERE company_id = OLD.id;
  DELETE FROM response_approvals WHERE company_id = OLD.id;
  DELETE FROM help_requests WHERE company_id = OLD.id;
  DELETE FROM agent_states WHERE company_id = OLD.id;
  DELETE FROM brand_posts WHERE company_id = OLD.id;
  RETURN OLD;
END $$;

CREATE TRIGGER companies_delete_events AFTER DELETE ON companies
  FOR EACH ROW EXECUTE FUNCTION delete_company_events();
