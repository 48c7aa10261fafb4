-- dialect: mysql
-- expect: SS000@note
FROBNICATE THE users WITH (garbage;
