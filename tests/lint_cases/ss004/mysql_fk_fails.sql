-- dialect: mysql
-- rows: users=3000000
-- expect: SS004@error
ALTER TABLE users ADD CONSTRAINT fk_users_family_id FOREIGN KEY (family_id) REFERENCES families (id);
