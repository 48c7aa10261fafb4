-- dialect: sqlite
-- label: hazard
-- source: SQLite docs, ALTER TABLE: the 12-step generalized ALTER TABLE procedure copies every row
CREATE TABLE _users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT, age INTEGER, family_id INTEGER, bio TEXT);
INSERT INTO _users_new (id, email, name, age, family_id, bio) SELECT id, email, name, age, family_id, bio FROM users;
DROP TABLE users;
ALTER TABLE _users_new RENAME TO users;
