-- dialect: mariadb
-- label: safe
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: adding a secondary index is in place, LOCK=NONE
-- verify: online
ALTER TABLE users ADD INDEX ix_users_name (name);
