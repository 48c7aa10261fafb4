-- dialect: postgresql
-- label: safe
-- source: strong_migrations README: setting NOT NULL, second migration of the recipe
ALTER TABLE users VALIDATE CONSTRAINT users_email_null;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_email_null;
