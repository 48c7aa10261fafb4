-- dialect: sqlite
-- expect: none
CREATE TABLE families (id INTEGER PRIMARY KEY, name TEXT);
UPDATE families SET name = 'x';
