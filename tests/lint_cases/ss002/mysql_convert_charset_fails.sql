-- dialect: mysql
-- rows: orders=20000
-- expect: SS002@warning
ALTER TABLE orders CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
