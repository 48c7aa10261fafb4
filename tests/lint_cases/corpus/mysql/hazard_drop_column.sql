-- dialect: mariadb
-- label: hazard
-- source: strong_migrations README: removing a column; gh-ost / pt-online-schema-change docs
ALTER TABLE users DROP COLUMN age;
