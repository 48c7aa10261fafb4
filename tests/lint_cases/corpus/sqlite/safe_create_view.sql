-- dialect: sqlite
-- label: safe
-- source: SQLite docs, CREATE VIEW
-- verify: accepted
CREATE VIEW adult_users AS SELECT id, email FROM users WHERE age >= 18;
