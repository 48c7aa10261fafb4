-- dialect: sqlite
-- label: hazard
-- source: SQLite docs, DELETE: the truncate optimization still deletes every row
DELETE FROM orders;
