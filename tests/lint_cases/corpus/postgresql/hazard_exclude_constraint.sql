-- dialect: postgresql
-- label: hazard
-- source: PostgreSQL 15 docs, ALTER TABLE: ADD EXCLUDE builds its index under ACCESS EXCLUSIVE
ALTER TABLE orders ADD CONSTRAINT ex_orders EXCLUDE USING btree (user_id WITH =);
