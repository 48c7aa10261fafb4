-- dialect: postgresql
-- rows: users=1000000
-- expect: none
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_users_email ON users (email);
