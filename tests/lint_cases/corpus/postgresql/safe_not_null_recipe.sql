-- dialect: postgresql
-- label: safe
-- source: strong_migrations README: setting NOT NULL on an existing column (safe recipe, PostgreSQL 12+)
ALTER TABLE users ADD CONSTRAINT users_email_null CHECK (email IS NOT NULL) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT users_email_null;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_email_null;
