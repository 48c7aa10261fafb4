-- dialect: mysql
-- rows: users=50000
-- expect: none
CREATE INDEX ix_users_email ON users (email);
