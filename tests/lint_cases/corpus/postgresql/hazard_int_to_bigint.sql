-- dialect: postgresql
-- label: hazard
-- source: strong_migrations README: changing the type of a column
-- verify: rewrite
ALTER TABLE users ALTER COLUMN age TYPE bigint;
