-- dialect: sqlite
-- label: hazard
-- source: SQLite docs, ALTER TABLE: the column may not have a PRIMARY KEY or UNIQUE constraint
-- verify: refused
ALTER TABLE users ADD COLUMN code TEXT UNIQUE;
