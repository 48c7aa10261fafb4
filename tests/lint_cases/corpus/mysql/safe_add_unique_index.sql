-- dialect: mariadb
-- label: safe
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: a unique secondary index is built online
-- verify: online
ALTER TABLE users ADD UNIQUE INDEX ux_users_email (email);
