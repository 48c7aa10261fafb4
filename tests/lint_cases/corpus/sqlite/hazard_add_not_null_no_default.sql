-- dialect: sqlite
-- label: hazard
-- source: SQLite docs, ALTER TABLE: a NOT NULL column needs a non-NULL default
-- verify: refused
ALTER TABLE users ADD COLUMN plan TEXT NOT NULL;
