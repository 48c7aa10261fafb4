-- dialect: mariadb
-- label: hazard
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: changing the column data type copies the table
-- verify: not-online
ALTER TABLE users MODIFY COLUMN age BIGINT;
