-- dialect: postgresql
-- label: hazard
-- source: strong_migrations README: adding a check constraint
ALTER TABLE users ADD CONSTRAINT ck_age CHECK (age >= 0);
