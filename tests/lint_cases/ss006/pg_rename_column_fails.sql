-- dialect: postgresql
-- expect: squawk:renaming-column@warning
ALTER TABLE users RENAME COLUMN name TO full_name;
