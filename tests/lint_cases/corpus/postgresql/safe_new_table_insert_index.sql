-- dialect: postgresql
-- label: safe
-- source: issue 17: a table created in the same migration, filled, then indexed
CREATE TABLE plans (id bigint PRIMARY KEY, name text);
INSERT INTO plans VALUES (1, 'free'), (2, 'pro');
CREATE INDEX ix_plans_name ON plans (name);
