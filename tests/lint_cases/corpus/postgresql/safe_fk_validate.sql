-- dialect: postgresql
-- label: safe
-- source: strong_migrations README: validate the foreign key in a separate migration (step 2)
ALTER TABLE users VALIDATE CONSTRAINT fk_users_family;
