-- dialect: mysql
-- expect: SS000@error
FROBNICATE THE users WITH (garbage;
