-- dialect: mariadb
-- expect: SS008@error
ALTER TABLE users ADD COLUMN note VARCHAR(20), LOCK=EXCLUSIVE;
