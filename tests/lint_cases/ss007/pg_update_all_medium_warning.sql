-- dialect: postgresql
-- rows: users=20000
-- expect: SS007@warning
UPDATE users SET family_id = parent_id;
