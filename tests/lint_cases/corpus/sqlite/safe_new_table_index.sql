-- dialect: sqlite
-- label: safe
-- source: strong_migrations README: creating a table
-- verify: accepted
CREATE TABLE plans (id INTEGER PRIMARY KEY, name TEXT);
CREATE INDEX ix_plans_name ON plans (name);
