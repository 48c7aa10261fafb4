-- dialect: postgresql
-- label: hazard
-- source: squawk rule docs: adding-serial-primary-key-field / primary key builds an index under ACCESS EXCLUSIVE
ALTER TABLE orders DROP CONSTRAINT orders_pkey;
ALTER TABLE orders ADD PRIMARY KEY (id, user_id);
