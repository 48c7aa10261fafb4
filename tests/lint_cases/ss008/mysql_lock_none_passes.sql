-- dialect: mysql
-- expect: none
ALTER TABLE users ADD COLUMN note VARCHAR(20), ALGORITHM=INSTANT, LOCK=NONE;
