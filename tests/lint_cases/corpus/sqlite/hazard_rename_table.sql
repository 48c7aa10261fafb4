-- dialect: sqlite
-- label: hazard
-- source: strong_migrations README: renaming a table
ALTER TABLE orders RENAME TO purchases;
