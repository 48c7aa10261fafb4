-- dialect: postgresql
-- label: hazard
-- source: PostgreSQL 15 docs, CLUSTER: ACCESS EXCLUSIVE rewrite
CLUSTER users USING users_pkey;
