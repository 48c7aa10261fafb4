-- dialect: mariadb
-- label: hazard
-- source: strong_migrations README: backfilling data; gh-ost / pt-online-schema-change docs: throttled row copy
UPDATE users SET bio = '';
