-- dialect: sqlite
-- expect: none
ALTER TABLE users ADD COLUMN plan TEXT;
