-- dialect: postgresql
-- label: safe
-- source: issue 17: varchar → text is binary-coercible, no rewrite
-- verify: no-rewrite
ALTER TABLE users ALTER COLUMN name TYPE text;
