-- dialect: postgresql
-- label: hazard
-- source: strong_migrations README: adding a stored generated column
-- verify: rewrite
ALTER TABLE users ADD COLUMN age2 int GENERATED ALWAYS AS (age * 2) STORED;
