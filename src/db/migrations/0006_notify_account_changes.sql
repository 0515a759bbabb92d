-- API processes keep the users they authenticate in memory. Every change to
-- users, their permissions or companies is announced on commit, so that each
-- process forgets what it kept.
CREATE FUNCTION notify_accounts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('care_accounts_changed', '');
  RETURN NULL;
END $$;

CREATE TRIGGER api_users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_users
  FOR EACH STATEMENT EXECUTE FUNCTION notify_accounts_changed();
CREATE TRIGGER user_permissions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON user_permissions
  FOR EACH STATEMENT EXECUTE FUNCTION notify_accounts_changed();
CREATE TRIGGER companies_changed AFTER UPDATE OR DELETE OR TRUNCATE ON companies
  FOR EACH STATEMENT EXECUTE FUNCTION notify_accounts_changed();
