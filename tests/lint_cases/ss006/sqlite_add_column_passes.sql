-- dialect: sqlite
-- expect: none
ALTER TABLE users ADD COLUMN full_name TEXT;
