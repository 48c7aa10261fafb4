-- dialect: postgresql
-- label: hazard
-- source: strong_migrations README: adding a unique constraint (squawk rule docs: disallowed-unique-constraint)
ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE (email);
