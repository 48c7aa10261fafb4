-- dialect: sqlite
-- expect: none
ALTER TABLE users ADD COLUMN created_at TEXT DEFAULT '1970-01-01';
