-- dialect: mariadb
-- label: safe
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: ADD FOREIGN KEY in place with foreign_key_checks=0
SET foreign_key_checks = 0;
ALTER TABLE users ADD CONSTRAINT fk_users_family FOREIGN KEY (family_id) REFERENCES families (id), ALGORITHM=INPLACE, LOCK=NONE;
SET foreign_key_checks = 1;
