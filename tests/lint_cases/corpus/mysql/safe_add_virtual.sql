-- dialect: mariadb
-- label: safe
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: adding a VIRTUAL generated column is INSTANT
-- verify: online
ALTER TABLE users ADD COLUMN age2 INT AS (age * 2) VIRTUAL;
