-- dialect: postgresql
-- rows: orders=2000000
-- expect: squawk:changing-column-type@error
ALTER TABLE orders ALTER COLUMN amount TYPE numeric(12, 2);
