-- dialect: postgresql
-- label: hazard
-- source: strong_migrations README: adding a foreign key
ALTER TABLE users ADD CONSTRAINT fk_users_family FOREIGN KEY (family_id) REFERENCES families (id);
