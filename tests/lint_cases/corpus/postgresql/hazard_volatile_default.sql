-- dialect: postgresql
-- label: hazard
-- source: strong_migrations README: adding a column with a volatile default value
-- verify: rewrite
ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();
