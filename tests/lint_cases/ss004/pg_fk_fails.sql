-- dialect: postgresql
-- rows: users=3000000, families=100
-- expect: squawk:adding-foreign-key-constraint@error, squawk:constraint-missing-not-valid@error
ALTER TABLE users ADD CONSTRAINT fk_users_family_id FOREIGN KEY (family_id) REFERENCES families (id);
