-- dialect: mysql
-- expect: SS091@warning
-- safeshift: allow SS001 because the index is tiny
ALTER TABLE users ADD COLUMN note TEXT NULL;
