-- dialect: mariadb
-- label: hazard
-- source: MySQL 8.0 reference manual, TRUNCATE TABLE
TRUNCATE TABLE orders;
