-- dialect: mariadb
-- label: hazard
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: extending VARCHAR past 255 bytes needs a copy
-- verify: not-online
ALTER TABLE users MODIFY COLUMN name VARCHAR(300);
