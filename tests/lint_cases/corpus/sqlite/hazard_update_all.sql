-- dialect: sqlite
-- label: hazard
-- source: strong_migrations README: backfilling data (one write transaction)
UPDATE users SET bio = '';
