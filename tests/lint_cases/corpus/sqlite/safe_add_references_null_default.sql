-- dialect: sqlite
-- label: safe
-- source: SQLite docs, ALTER TABLE: REFERENCES with a NULL default is allowed
-- verify: accepted
ALTER TABLE orders ADD COLUMN family_id INTEGER REFERENCES families (id);
