-- dialect: postgresql
-- label: safe
-- source: squawk rule docs: require-concurrent-index-deletion (fix)
DROP INDEX CONCURRENTLY ix_users_email;
