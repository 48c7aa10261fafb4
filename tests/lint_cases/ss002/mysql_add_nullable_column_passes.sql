-- dialect: mysql
-- rows: orders=2000000
-- expect: none
ALTER TABLE orders ADD COLUMN note TEXT NULL;
