-- dialect: mysql
-- expect: SS006@warning
RENAME TABLE users TO accounts;
