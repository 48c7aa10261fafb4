-- dialect: postgresql
-- label: safe
-- source: strong_migrations README: adding a nullable column
-- verify: no-rewrite
ALTER TABLE users ADD COLUMN nickname text;
