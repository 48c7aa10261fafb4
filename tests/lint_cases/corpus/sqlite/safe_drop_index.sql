-- dialect: sqlite
-- label: safe
-- source: SQLite docs, DROP INDEX
DROP INDEX IF EXISTS ix_users_email;
