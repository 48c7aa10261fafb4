-- dialect: mariadb
-- label: hazard
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: adding an AUTO_INCREMENT column copies the table
-- verify: not-online
ALTER TABLE orders ADD COLUMN seq INT NOT NULL AUTO_INCREMENT UNIQUE;
