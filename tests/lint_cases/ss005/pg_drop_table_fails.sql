-- dialect: postgresql
-- expect: SS005@warning
DROP TABLE IF EXISTS legacy_sessions;
