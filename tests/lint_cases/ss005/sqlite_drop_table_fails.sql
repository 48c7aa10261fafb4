-- dialect: sqlite
-- expect: SS005@error
DELETE FROM sessions WHERE expires_at < '2020-01-01';
DROP TABLE sessions;
