-- dialect: postgresql
-- label: hazard
-- source: strong_migrations README: setting NOT NULL on an existing column
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
