-- dialect: postgresql
-- expect: none
LOCK TABLE users IN SHARE UPDATE EXCLUSIVE MODE;
