-- dialect: postgresql
-- label: safe
-- source: PostgreSQL 15 docs, ALTER TABLE: SET STATISTICS takes SHARE UPDATE EXCLUSIVE
ALTER TABLE users ALTER COLUMN email SET STATISTICS 500;
