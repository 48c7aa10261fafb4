-- dialect: postgresql
-- label: safe
-- source: strong_migrations README: backfilling data in batches
UPDATE users SET bio = '' WHERE id > 0 AND id <= 5000 AND bio IS NULL;
