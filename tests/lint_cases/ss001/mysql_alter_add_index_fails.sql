-- dialect: mysql
-- rows: users=5000000
-- expect: SS001@error
ALTER TABLE users ADD INDEX ix_users_email (email);
