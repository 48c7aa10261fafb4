-- dialect: postgresql
-- label: hazard
-- source: PostgreSQL 15 docs, ALTER TABLE: SET TABLESPACE rewrites under ACCESS EXCLUSIVE
ALTER TABLE users SET TABLESPACE pg_default;
