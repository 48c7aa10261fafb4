-- dialect: postgresql
-- rows: orders=20000
-- expect: SS002@warning
VACUUM FULL orders;
