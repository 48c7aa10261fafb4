-- dialect: mariadb
-- label: safe
-- source: gh-ost / pt-online-schema-change docs: copy in chunks
UPDATE users SET bio = '' WHERE bio IS NULL LIMIT 5000;
