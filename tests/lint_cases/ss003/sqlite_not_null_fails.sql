-- dialect: sqlite
-- rows: users=0
-- expect: SS003@error
ALTER TABLE users ADD COLUMN plan TEXT NOT NULL;
