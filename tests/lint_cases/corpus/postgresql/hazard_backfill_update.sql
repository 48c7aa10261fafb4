-- dialect: postgresql
-- label: hazard
-- source: strong_migrations README: backfilling data in the same transaction
UPDATE users SET bio = '';
