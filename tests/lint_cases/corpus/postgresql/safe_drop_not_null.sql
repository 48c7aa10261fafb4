-- dialect: postgresql
-- label: safe
-- source: PostgreSQL 15 docs, ALTER TABLE: DROP NOT NULL touches the catalog only
-- verify: no-rewrite
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
