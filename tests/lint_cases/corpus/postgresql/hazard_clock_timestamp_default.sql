-- dialect: postgresql
-- label: hazard
-- source: squawk rule docs: adding-field-with-default (volatile)
-- verify: rewrite
ALTER TABLE users ADD COLUMN seen_at timestamptz DEFAULT clock_timestamp();
