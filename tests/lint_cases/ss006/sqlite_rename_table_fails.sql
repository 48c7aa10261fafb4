-- dialect: sqlite
-- expect: SS006@error
ALTER TABLE users RENAME TO accounts;
