-- dialect: postgresql
-- label: hazard
-- source: issue 17: ADD COLUMN bigserial rewrites the table
-- verify: rewrite
ALTER TABLE users ADD COLUMN seq bigserial;
