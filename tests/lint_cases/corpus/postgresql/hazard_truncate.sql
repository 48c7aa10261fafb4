-- dialect: postgresql
-- label: hazard
-- source: squawk rule docs: ban-truncate-cascade / data loss
TRUNCATE orders;
