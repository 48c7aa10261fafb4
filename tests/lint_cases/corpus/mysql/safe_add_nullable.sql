-- dialect: mariadb
-- label: safe
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: adding a column is INSTANT
-- verify: online
ALTER TABLE users ADD COLUMN nickname VARCHAR(50) NULL;
