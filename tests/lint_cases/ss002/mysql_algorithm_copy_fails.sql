-- dialect: mysql
-- expect: SS002@warning
ALTER TABLE orders ADD COLUMN note TEXT, ALGORITHM=COPY;
