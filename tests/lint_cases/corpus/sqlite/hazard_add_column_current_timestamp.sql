-- dialect: sqlite
-- label: hazard
-- source: SQLite docs, ALTER TABLE: a column may not default to CURRENT_TIMESTAMP
-- verify: refused
ALTER TABLE users ADD COLUMN created_at TEXT DEFAULT CURRENT_TIMESTAMP;
