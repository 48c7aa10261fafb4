-- dialect: mysql
-- rows: users=100
-- expect: SS006@error, SS002@note
ALTER TABLE users CHANGE COLUMN name full_name VARCHAR(200) NOT NULL;
