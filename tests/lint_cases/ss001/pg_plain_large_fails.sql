-- dialect: postgresql
-- rows: users=1000000
-- expect: squawk:require-concurrent-index-creation@error
CREATE INDEX IF NOT EXISTS ix_users_email ON users (email);
