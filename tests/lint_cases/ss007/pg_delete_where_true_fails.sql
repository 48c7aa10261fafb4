-- dialect: postgresql
-- rows: sessions=2000000
-- expect: SS007@error
DELETE FROM sessions WHERE 1 = 1;
