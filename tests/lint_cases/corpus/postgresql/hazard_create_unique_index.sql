-- dialect: postgresql
-- label: hazard
-- source: squawk rule docs: require-concurrent-index-creation
CREATE UNIQUE INDEX ux_users_email ON users (email);
