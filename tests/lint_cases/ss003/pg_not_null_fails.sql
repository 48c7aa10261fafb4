-- dialect: postgresql
-- rows: users=1000
-- expect: squawk:adding-required-field@error
ALTER TABLE users ADD COLUMN IF NOT EXISTS plan text NOT NULL;
