-- dialect: postgresql
-- destructive-ok: true
-- expect: SS005@warning
DROP TABLE IF EXISTS legacy_sessions;
