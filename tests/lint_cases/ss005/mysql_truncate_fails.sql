-- dialect: mysql
-- expect: SS005@error
TRUNCATE TABLE sessions;
