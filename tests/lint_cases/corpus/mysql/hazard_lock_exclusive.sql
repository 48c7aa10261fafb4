-- dialect: mariadb
-- label: hazard
-- source: issue 17 / MySQL 8.0 reference manual, 15.12.1 Online DDL operations: LOCK=EXCLUSIVE blocks reads and writes
ALTER TABLE users ADD COLUMN note VARCHAR(20), LOCK=EXCLUSIVE;
