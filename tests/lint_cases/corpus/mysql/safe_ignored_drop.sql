-- dialect: mariadb
-- label: safe
-- source: strong_migrations README: removing a column after ignoring it (safety_assured)
-- safeshift: allow SS005 because release 41 stopped reading users.bio
ALTER TABLE users DROP COLUMN bio;
