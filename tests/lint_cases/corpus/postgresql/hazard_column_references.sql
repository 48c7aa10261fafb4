-- dialect: postgresql
-- label: hazard
-- source: squawk rule docs: adding-foreign-key-constraint
ALTER TABLE orders ADD COLUMN family_id bigint REFERENCES families (id);
