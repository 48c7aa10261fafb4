-- dialect: mysql
-- expect: none
CREATE TABLE _family_founders (user_id INT PRIMARY KEY, family_id INT NOT NULL);
DROP TABLE _family_founders;
