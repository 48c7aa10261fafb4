-- dialect: sqlite
-- rows: users=1000
-- expect: SS001@note
CREATE INDEX ix_users_email ON users (email);
