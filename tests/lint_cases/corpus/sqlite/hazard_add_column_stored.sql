-- dialect: sqlite
-- label: hazard
-- source: SQLite docs, ALTER TABLE: the column may not be GENERATED ALWAYS ... STORED
-- verify: refused
ALTER TABLE users ADD COLUMN age2 INTEGER GENERATED ALWAYS AS (age * 2) STORED;
