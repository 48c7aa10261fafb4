-- dialect: sqlite
-- label: safe
-- source: SQLite docs, ALTER TABLE: ADD COLUMN is a schema change only
-- verify: accepted
ALTER TABLE users ADD COLUMN nickname TEXT;
