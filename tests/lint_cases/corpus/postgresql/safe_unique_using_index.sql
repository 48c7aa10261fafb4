-- dialect: postgresql
-- label: safe
-- source: strong_migrations README: adding a unique constraint (safe recipe)
CREATE UNIQUE INDEX CONCURRENTLY ux_users_email ON users (email);
ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE USING INDEX ux_users_email;
