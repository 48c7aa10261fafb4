-- dialect: postgresql
-- label: safe
-- source: PostgreSQL 15 docs, ALTER TABLE: increasing a varchar limit needs no rewrite
-- verify: no-rewrite
ALTER TABLE users ALTER COLUMN name TYPE varchar(200);
