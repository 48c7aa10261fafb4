-- dialect: postgresql
-- destructive-ok: true
-- expect: SS005@note
DROP TABLE IF EXISTS legacy_sessions;
