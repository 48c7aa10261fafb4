-- dialect: postgresql
-- label: safe
-- source: PostgreSQL 15 docs, REINDEX CONCURRENTLY
REINDEX INDEX CONCURRENTLY users_pkey;
