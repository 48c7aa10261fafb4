-- dialect: mariadb
-- rows: users=5000000
-- expect: none
ALTER ONLINE TABLE users ADD INDEX ix_users_email (email);
