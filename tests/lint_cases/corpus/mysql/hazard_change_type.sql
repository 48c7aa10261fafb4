-- dialect: mariadb
-- label: hazard
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: changing the column data type
-- verify: not-online
ALTER TABLE users CHANGE COLUMN age age DECIMAL(10,2);
