-- dialect: postgresql
-- label: hazard
-- source: squawk rule docs: require-concurrent-index-deletion
DROP INDEX ix_users_email;
