-- dialect: mariadb
-- label: hazard
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: the first FULLTEXT index rebuilds the table (LOCK=SHARED at best); gh-ost / pt-online-schema-change docs
-- verify: not-online
ALTER TABLE users ADD FULLTEXT INDEX ft_users_bio (bio);
