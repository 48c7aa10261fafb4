-- dialect: mariadb
-- label: safe
-- source: issue 17 / MySQL 8.0 reference manual, 15.12.1 Online DDL operations: InnoDB builds secondary indexes online by default
-- verify: online
CREATE INDEX ix_users_age ON users (age);
