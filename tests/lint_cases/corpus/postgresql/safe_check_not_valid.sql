-- dialect: postgresql
-- label: safe
-- source: strong_migrations README: check constraint NOT VALID then VALIDATE
ALTER TABLE users ADD CONSTRAINT ck_age CHECK (age >= 0) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT ck_age;
