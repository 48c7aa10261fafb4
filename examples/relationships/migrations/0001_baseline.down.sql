-- Generic: the same SQL on PostgreSQL, SQLite and MySQL/MariaDB.
DROP TABLE streaks;
DROP TABLE points;
DROP TABLE sessions;
DROP TABLE couples;
DROP TABLE users;
