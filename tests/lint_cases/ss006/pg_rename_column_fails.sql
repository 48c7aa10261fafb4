-- dialect: postgresql
-- expect: squawk:renaming-column@error
ALTER TABLE users RENAME COLUMN name TO full_name;
