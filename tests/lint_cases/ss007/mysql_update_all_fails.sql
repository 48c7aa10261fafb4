-- dialect: mysql
-- rows: users=2000000
-- expect: SS007@error
UPDATE users SET family_id = parent_id;
