-- dialect: postgresql
-- label: safe
-- source: strong_migrations README: non-volatile default (PostgreSQL 11+)
-- verify: no-rewrite
ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true;
