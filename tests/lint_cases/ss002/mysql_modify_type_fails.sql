-- dialect: mysql
-- rows: orders=2000000
-- expect: SS002@error
ALTER TABLE orders MODIFY COLUMN amount DECIMAL(12, 2) NOT NULL;
