-- dialect: mariadb
-- label: safe
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: LOCK=NONE makes the server refuse instead of block
ALTER TABLE users MODIFY COLUMN name VARCHAR(100) NULL, ALGORITHM=INPLACE, LOCK=NONE;
