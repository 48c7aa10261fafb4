-- dialect: postgresql
-- label: hazard
-- source: squawk rule docs: adding-serial-primary-key-field
-- verify: rewrite
ALTER TABLE orders ADD COLUMN seq serial;
