-- dialect: postgresql
-- label: safe
-- source: strong_migrations README: adding a nullable column without a default
-- verify: no-rewrite
ALTER TABLE users ADD COLUMN tags text[];
