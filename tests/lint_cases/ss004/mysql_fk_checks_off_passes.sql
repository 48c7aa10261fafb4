-- dialect: mysql
-- rows: users=3000000
-- expect: none
SET foreign_key_checks = 0;
ALTER TABLE users ADD CONSTRAINT fk_users_family_id FOREIGN KEY (family_id) REFERENCES families (id), ALGORITHM=INPLACE, LOCK=NONE;
SET foreign_key_checks = 1;
