-- dialect: mysql
-- rows: users=2000000
-- expect: none
UPDATE users SET family_id = parent_id WHERE family_id IS NULL LIMIT 5000;
