-- dialect: postgresql
-- label: hazard
-- source: squawk rule docs: changing-column-type
-- verify: rewrite
ALTER TABLE users ALTER COLUMN age TYPE text USING age::text;
