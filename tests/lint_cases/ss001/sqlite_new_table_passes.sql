-- dialect: sqlite
-- expect: none
CREATE TABLE families (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE INDEX ix_families_name ON families (name);
