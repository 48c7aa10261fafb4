-- dialect: postgresql
-- label: hazard
-- source: issue 17: CREATE INDEX inside DO $$ EXECUTE
DO $$
BEGIN
  EXECUTE 'CREATE INDEX ix_users_name ON users (name)';
END
$$;
