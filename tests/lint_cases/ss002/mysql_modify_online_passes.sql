-- dialect: mysql
-- rows: orders=2000000
-- expect: none
ALTER TABLE orders MODIFY COLUMN note VARCHAR(200), ALGORITHM=INPLACE, LOCK=NONE;
