-- dialect: mysql
-- expect: SS003@warning
ALTER TABLE users ADD COLUMN plan VARCHAR(20) NOT NULL;
