-- dialect: sqlite
-- label: hazard
-- source: strong_migrations README: dropping a table
DROP TABLE orders;
