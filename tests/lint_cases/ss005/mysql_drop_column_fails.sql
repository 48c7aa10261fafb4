-- dialect: mysql
-- expect: SS005@warning
ALTER TABLE users DROP COLUMN legacy_flag;
