-- dialect: mariadb
-- label: hazard
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: converting a character set copies the table
-- verify: not-online
ALTER TABLE users CONVERT TO CHARACTER SET latin1;
