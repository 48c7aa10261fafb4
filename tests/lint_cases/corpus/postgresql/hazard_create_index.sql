-- dialect: postgresql
-- label: hazard
-- source: strong_migrations README: adding an index non-concurrently
CREATE INDEX ix_users_email ON users (email);
