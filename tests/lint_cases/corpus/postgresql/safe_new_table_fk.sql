-- dialect: postgresql
-- label: safe
-- source: strong_migrations README: creating a table
CREATE TABLE invoices (id bigint PRIMARY KEY, order_id bigint REFERENCES orders (id));
