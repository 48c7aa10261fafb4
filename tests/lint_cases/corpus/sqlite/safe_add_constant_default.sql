-- dialect: sqlite
-- label: safe
-- source: SQLite docs, ALTER TABLE: a constant default is allowed
-- verify: accepted
ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
