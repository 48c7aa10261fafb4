-- dialect: postgresql
-- label: hazard
-- source: squawk rule docs: adding-required-field
-- verify: refused
ALTER TABLE users ADD COLUMN plan text NOT NULL;
