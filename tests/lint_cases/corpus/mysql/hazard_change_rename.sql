-- dialect: mariadb
-- label: hazard
-- source: strong_migrations README: renaming a column
ALTER TABLE users CHANGE COLUMN name full_name VARCHAR(100);
