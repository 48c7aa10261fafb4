-- dialect: mariadb
-- label: hazard
-- source: MariaDB docs, InnoDB online DDL operations: CREATE FULLTEXT INDEX cannot run with LOCK=NONE
-- verify: not-online
CREATE FULLTEXT INDEX ft_users_bio ON users (bio);
