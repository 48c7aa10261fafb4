-- dialect: sqlite
-- expect: SS006@warning
ALTER TABLE users RENAME TO accounts;
