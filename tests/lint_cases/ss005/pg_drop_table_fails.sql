-- dialect: postgresql
-- expect: SS005@error
DROP TABLE IF EXISTS legacy_sessions;
