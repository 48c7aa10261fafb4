-- dialect: mariadb
-- label: safe
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: setting a column default is INSTANT
-- verify: online
ALTER TABLE users ALTER COLUMN age SET DEFAULT 0;
