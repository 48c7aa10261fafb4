-- dialect: postgresql
-- label: safe
-- source: PostgreSQL 15 docs, ALTER TABLE: a non-volatile (STABLE) default needs no rewrite
-- verify: no-rewrite
ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now();
