-- dialect: postgresql
-- label: safe
-- source: PostgreSQL 15 docs, ALTER TABLE: varchar(n) → varchar needs no rewrite
-- verify: no-rewrite
ALTER TABLE users ALTER COLUMN email TYPE varchar;
