-- dialect: sqlite
-- label: hazard
-- source: SQLite docs, VACUUM: rewrites the database under an exclusive lock
VACUUM;
