-- dialect: mariadb
-- label: hazard
-- source: pt-archiver docs: delete in chunks
DELETE FROM orders;
