-- dialect: mariadb
-- label: safe
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: dropping a secondary index is in place
-- verify: online
DROP INDEX ix_users_email ON users;
