-- dialect: postgresql
-- label: safe
-- source: strong_migrations README: add the foreign key NOT VALID (safe recipe, step 1)
ALTER TABLE users ADD CONSTRAINT fk_users_family FOREIGN KEY (family_id) REFERENCES families (id) NOT VALID;
