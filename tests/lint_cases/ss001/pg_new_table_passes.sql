-- dialect: postgresql
-- expect: none
CREATE TABLE IF NOT EXISTS families (id bigint PRIMARY KEY, name text NOT NULL);
CREATE INDEX IF NOT EXISTS ix_families_name ON families (name);
