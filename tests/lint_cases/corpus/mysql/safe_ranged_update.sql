-- dialect: mariadb
-- label: safe
-- source: strong_migrations README: backfilling data in batches
UPDATE users SET bio = '' WHERE id BETWEEN 1 AND 5000;
