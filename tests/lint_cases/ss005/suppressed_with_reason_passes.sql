-- dialect: postgresql
-- expect: none
-- safeshift: allow destructive because legacy_sessions was archived to S3 in ticket OPS-123
DROP TABLE IF EXISTS legacy_sessions;
