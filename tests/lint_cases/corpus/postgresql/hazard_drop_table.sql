-- dialect: postgresql
-- label: hazard
-- source: strong_migrations README: dropping a table (ban-drop-table in squawk rule docs)
DROP TABLE orders;
