-- dialect: mysql
-- expect: SS006@error
RENAME TABLE users TO accounts;
