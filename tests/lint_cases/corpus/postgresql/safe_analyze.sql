-- dialect: postgresql
-- label: safe
-- source: PostgreSQL 15 docs, ANALYZE
ANALYZE users;
