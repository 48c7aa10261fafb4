-- dialect: mariadb
-- label: hazard
-- source: MySQL 8.0 reference manual, 15.12.1 Online DDL operations: SPATIAL index builds with LOCK=SHARED
CREATE SPATIAL INDEX sp_users_loc ON users (loc);
