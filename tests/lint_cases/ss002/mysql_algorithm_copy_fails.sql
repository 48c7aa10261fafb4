-- dialect: mysql
-- expect: SS002@error
ALTER TABLE orders ADD COLUMN note TEXT, ALGORITHM=COPY;
