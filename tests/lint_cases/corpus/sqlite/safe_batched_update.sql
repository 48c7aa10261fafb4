-- dialect: sqlite
-- label: safe
-- source: strong_migrations README: backfilling data in batches
-- verify: accepted
UPDATE users SET bio = '' WHERE id > 0 AND id <= 5000;
