-- dialect: mysql
-- expect: SS003@error
ALTER TABLE users ADD COLUMN plan VARCHAR(20) NOT NULL;
