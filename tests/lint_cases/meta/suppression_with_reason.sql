-- dialect: mysql
-- rows: users=2000000
-- expect: none
UPDATE users SET family_id = parent_id; -- safeshift: allow SS007 because runs in the maintenance window, measured 4 s on a copy
