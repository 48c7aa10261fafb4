-- dialect: mysql
-- expect: SS005@error
ALTER TABLE users DROP COLUMN legacy_flag;
