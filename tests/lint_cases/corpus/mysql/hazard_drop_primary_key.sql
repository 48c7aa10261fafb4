-- dialect: mariadb
-- label: hazard
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: dropping a primary key copies the table
-- verify: not-online
ALTER TABLE orders DROP PRIMARY KEY;
