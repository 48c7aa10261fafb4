-- dialect: postgresql
-- label: hazard
-- source: PostgreSQL 15 docs, ALTER TABLE VACUUM FULL: ACCESS EXCLUSIVE rewrite
VACUUM FULL users;
