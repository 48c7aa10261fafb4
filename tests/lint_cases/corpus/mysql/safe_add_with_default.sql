-- dialect: mariadb
-- label: safe
-- source: MariaDB docs, InnoDB online DDL operations: ADD COLUMN with a default is instant (10.3+)
-- verify: online
ALTER TABLE users ADD COLUMN active TINYINT NOT NULL DEFAULT 1;
