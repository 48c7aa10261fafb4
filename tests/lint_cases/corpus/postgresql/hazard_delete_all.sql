-- dialect: postgresql
-- label: hazard
-- source: squawk rule docs: data loss, whole-table DELETE
DELETE FROM orders;
