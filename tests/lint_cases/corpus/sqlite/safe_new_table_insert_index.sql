-- dialect: sqlite
-- label: safe
-- source: issue 17: a table created in the same migration, filled, then indexed
-- verify: accepted
CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT);
INSERT INTO plans VALUES (1, 'free'), (2, 'pro');
CREATE INDEX ix_plans_name ON plans (name);
