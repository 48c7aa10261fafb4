-- dialect: sqlite
-- expect: SS009@error
ALTER TABLE users ADD COLUMN created_at TEXT DEFAULT CURRENT_TIMESTAMP;
