-- dialect: postgresql
-- rows: users=3000000, families=100
-- expect: none
ALTER TABLE users ADD CONSTRAINT fk_users_family_id FOREIGN KEY (family_id) REFERENCES families (id) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT fk_users_family_id;
