-- dialect: sqlite
-- label: safe
-- source: SQLite docs, ALTER TABLE: VIRTUAL generated columns may be added
-- verify: accepted
ALTER TABLE users ADD COLUMN age2 INTEGER GENERATED ALWAYS AS (age * 2) VIRTUAL;
