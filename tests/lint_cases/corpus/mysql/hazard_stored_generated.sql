-- dialect: mariadb
-- label: hazard
-- source: MariaDB docs, InnoDB online DDL operations: adding a STORED generated column rebuilds the table
-- verify: not-online
ALTER TABLE users ADD COLUMN age2 INT AS (age * 2) STORED;
