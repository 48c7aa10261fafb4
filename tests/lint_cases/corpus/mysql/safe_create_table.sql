-- dialect: mariadb
-- label: safe
-- source: strong_migrations README: creating a table
CREATE TABLE audit (id BIGINT PRIMARY KEY AUTO_INCREMENT, note TEXT) ENGINE=InnoDB;
