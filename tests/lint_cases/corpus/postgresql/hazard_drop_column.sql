-- dialect: postgresql
-- label: hazard
-- source: strong_migrations README: removing a column
ALTER TABLE users DROP COLUMN age;
