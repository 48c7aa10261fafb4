-- dialect: mariadb
-- label: safe
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: renaming an index is in place
ALTER TABLE users RENAME INDEX ix_a TO ix_b;
