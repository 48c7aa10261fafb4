-- dialect: mariadb
-- label: hazard
-- source: strong_migrations README: renaming a column
ALTER TABLE users RENAME COLUMN name TO full_name;
