-- dialect: postgresql
-- expect: SS008@error
LOCK TABLE users IN SHARE MODE;
