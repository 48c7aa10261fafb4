-- dialect: mariadb
-- label: hazard
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: ALTER TABLE ... FORCE, ALGORITHM=COPY
ALTER TABLE users FORCE, ALGORITHM=COPY;
