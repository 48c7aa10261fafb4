-- dialect: postgresql
-- label: hazard
-- source: squawk rule docs: ban-concurrent-index-creation-in-transaction
BEGIN;
CREATE INDEX CONCURRENTLY ix_users_name ON users (name);
COMMIT;
