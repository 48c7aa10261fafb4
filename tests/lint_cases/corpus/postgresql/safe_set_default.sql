-- dialect: postgresql
-- label: safe
-- source: PostgreSQL 15 docs, ALTER TABLE: SET DEFAULT touches the catalog only
-- verify: no-rewrite
ALTER TABLE users ALTER COLUMN age SET DEFAULT 0;
