-- dialect: sqlite
-- label: hazard
-- source: SQLite docs, ALTER TABLE: a column may not default to an expression in parentheses
-- verify: refused
ALTER TABLE users ADD COLUMN n INTEGER DEFAULT (random());
