-- dialect: mariadb
-- label: safe
-- source: MariaDB docs, InnoDB online DDL operations: ALTER ONLINE TABLE
ALTER ONLINE TABLE users ADD INDEX ix_users_name (name);
