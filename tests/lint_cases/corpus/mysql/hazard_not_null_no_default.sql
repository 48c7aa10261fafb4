-- dialect: mariadb
-- label: hazard
-- source: strong_migrations README: the running application's inserts fail (strict mode)
ALTER TABLE users ADD COLUMN plan VARCHAR(20) NOT NULL;
