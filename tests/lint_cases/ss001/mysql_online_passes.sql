-- dialect: mysql
-- rows: users=5000000
-- expect: none
CREATE INDEX ix_users_email ON users (email) ALGORITHM=INPLACE LOCK=NONE;
