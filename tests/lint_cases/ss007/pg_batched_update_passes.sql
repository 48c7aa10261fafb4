-- dialect: postgresql
-- rows: users=2000000
-- expect: none
UPDATE users SET family_id = parent_id WHERE id > 0 AND id <= 5000;
