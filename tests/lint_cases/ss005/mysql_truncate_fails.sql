-- dialect: mysql
-- expect: SS005@warning
TRUNCATE TABLE sessions;
