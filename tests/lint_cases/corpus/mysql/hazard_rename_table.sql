-- dialect: mariadb
-- label: hazard
-- source: strong_migrations README: renaming a table
RENAME TABLE orders TO purchases;
