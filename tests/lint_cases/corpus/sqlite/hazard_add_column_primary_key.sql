-- dialect: sqlite
-- label: hazard
-- source: SQLite docs, ALTER TABLE: the column may not have a PRIMARY KEY
-- verify: refused
ALTER TABLE users ADD COLUMN pk2 INTEGER PRIMARY KEY;
