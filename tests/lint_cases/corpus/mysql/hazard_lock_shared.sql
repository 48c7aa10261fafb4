-- dialect: mariadb
-- label: hazard
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: LOCK=SHARED blocks writes
ALTER TABLE users ADD COLUMN note VARCHAR(20), LOCK=SHARED;
