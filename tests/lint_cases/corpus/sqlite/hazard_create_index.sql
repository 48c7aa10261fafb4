-- dialect: sqlite
-- label: hazard
-- source: SQLite docs, file locking: the write lock is held for the whole build
CREATE INDEX ix_users_email ON users (email);
