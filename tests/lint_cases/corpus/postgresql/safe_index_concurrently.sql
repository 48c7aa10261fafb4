-- dialect: postgresql
-- label: safe
-- source: strong_migrations README: add indexes concurrently (safe recipe)
CREATE INDEX CONCURRENTLY ix_users_email ON users (email);
