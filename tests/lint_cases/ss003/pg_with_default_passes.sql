-- dialect: postgresql
-- rows: users=5000000
-- expect: none
ALTER TABLE users ADD COLUMN IF NOT EXISTS plan text NOT NULL DEFAULT 'free';
