-- dialect: postgresql
-- label: safe
-- source: PostgreSQL 15 docs, COMMENT
COMMENT ON COLUMN users.email IS 'login';
