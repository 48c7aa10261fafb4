-- dialect: mariadb
-- label: safe
-- source: issue 17: a table created in the same migration, filled, then indexed
CREATE TABLE plans (id INT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB;
INSERT INTO plans VALUES (1, 'free'), (2, 'pro');
CREATE INDEX ix_plans_name ON plans (name);
