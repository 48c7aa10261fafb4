-- dialect: mysql
-- rows: users=50000
-- expect: SS001@warning
CREATE INDEX ix_users_email ON users (email);
