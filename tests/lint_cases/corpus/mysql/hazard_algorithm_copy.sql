-- dialect: mariadb
-- label: hazard
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: ALGORITHM=COPY
ALTER TABLE users ADD COLUMN note TEXT, ALGORITHM=COPY;
