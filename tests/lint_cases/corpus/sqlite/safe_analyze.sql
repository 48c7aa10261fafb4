-- dialect: sqlite
-- label: safe
-- source: SQLite docs, ANALYZE
-- verify: accepted
ANALYZE;
