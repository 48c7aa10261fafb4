-- dialect: postgresql
-- label: hazard
-- source: PostgreSQL 15 docs, LOCK: ACCESS EXCLUSIVE by default
LOCK TABLE users;
