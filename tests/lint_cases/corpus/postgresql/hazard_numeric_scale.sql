-- dialect: postgresql
-- label: hazard
-- source: squawk rule docs: changing-column-type
-- verify: rewrite
ALTER TABLE orders ALTER COLUMN total TYPE numeric(10,2);
