-- dialect: mariadb
-- label: safe
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: changing the table comment is instant
ALTER TABLE users COMMENT = 'people';
