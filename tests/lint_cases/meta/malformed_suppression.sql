-- dialect: sqlite
-- expect: SS093@warning
-- safeshift: allow everything please
ALTER TABLE users ADD COLUMN note TEXT;
