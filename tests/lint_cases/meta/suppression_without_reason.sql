-- dialect: mysql
-- rows: users=2000000
-- expect: SS007@error, SS090@warning
-- safeshift: allow SS007
UPDATE users SET family_id = parent_id;
