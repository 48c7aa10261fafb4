-- dialect: sqlite
-- rows: users=2000000
-- expect: SS002@error
CREATE TABLE _alembic_tmp_users (id INTEGER NOT NULL, name VARCHAR(100) NOT NULL, family_id INTEGER, PRIMARY KEY (id));
INSERT INTO _alembic_tmp_users (id, name) SELECT users.id, users.name FROM users;
DROP TABLE users;
ALTER TABLE _alembic_tmp_users RENAME TO users;
