-- dialect: postgresql
-- label: hazard
-- source: PostgreSQL 15 docs, ALTER TABLE: adding an identity column rewrites
-- verify: rewrite
ALTER TABLE orders ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
