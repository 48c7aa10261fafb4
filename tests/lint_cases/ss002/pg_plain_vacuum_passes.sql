-- dialect: postgresql
-- rows: orders=2000000
-- expect: none
VACUUM (ANALYZE) orders;
