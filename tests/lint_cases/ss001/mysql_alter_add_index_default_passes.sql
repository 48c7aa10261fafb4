-- dialect: mysql
-- rows: users=5000000
-- expect: none
ALTER TABLE users ADD INDEX ix_users_email (email);
