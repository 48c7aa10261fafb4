-- dialect: postgresql
-- label: hazard
-- source: PostgreSQL 15 docs, REINDEX: blocks writes without CONCURRENTLY
REINDEX TABLE users;
