-- dialect: mariadb
-- label: safe
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: ALGORITHM=INPLACE, LOCK=NONE
CREATE INDEX ix_users_email ON users (email) ALGORITHM=INPLACE LOCK=NONE;
