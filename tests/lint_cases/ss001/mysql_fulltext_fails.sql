-- dialect: mariadb
-- rows: users=50000
-- expect: SS001@warning
CREATE FULLTEXT INDEX ft_users_bio ON users (bio);
