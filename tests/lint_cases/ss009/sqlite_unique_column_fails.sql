-- dialect: sqlite
-- rows: users=0
-- expect: SS009@error
ALTER TABLE users ADD COLUMN code TEXT UNIQUE;
