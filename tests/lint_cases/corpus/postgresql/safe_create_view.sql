-- dialect: postgresql
-- label: safe
-- source: strong_migrations README: adding a view
CREATE VIEW adult_users AS SELECT id, email FROM users WHERE age >= 18;
