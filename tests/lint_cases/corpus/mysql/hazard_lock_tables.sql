-- dialect: mariadb
-- label: hazard
-- source: MySQL 8.0 reference manual, LOCK TABLES
LOCK TABLES users WRITE;
