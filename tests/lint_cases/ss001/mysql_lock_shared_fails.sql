-- dialect: mysql
-- rows: users=5000000
-- expect: SS001@error
ALTER TABLE users ADD FULLTEXT INDEX ft_users_bio (bio), ALGORITHM=INPLACE, LOCK=SHARED;
