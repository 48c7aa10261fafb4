-- 0001 baseline for MySQL/MariaDB: AUTO_INCREMENT, DATETIME, and table-level foreign keys
-- (MySQL ignores a column-level REFERENCES clause).

CREATE TABLE users (
    id           INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    email        VARCHAR(255) NOT NULL,
    display_name VARCHAR(100) NOT NULL,
    created_at   DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT uq_users_email UNIQUE (email)
) ENGINE=InnoDB;

CREATE TABLE couples (
    id          INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    partner1_id INT NOT NULL,
    partner2_id INT NULL,
    invite_code VARCHAR(16) NOT NULL,
    created_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    INDEX ix_couples_partner1_id (partner1_id),
    INDEX ix_couples_partner2_id (partner2_id),
    INDEX ix_couples_invite_code (invite_code),
    CONSTRAINT fk_couples_partner1_id FOREIGN KEY (partner1_id) REFERENCES users (id),
    CONSTRAINT fk_couples_partner2_id FOREIGN KEY (partner2_id) REFERENCES users (id)
) ENGINE=InnoDB;

CREATE TABLE sessions (
    id               INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    couple_id        INT NULL,
    started_at       DATETIME NOT NULL,
    duration_seconds INT NOT NULL,
    score            INT NULL,
    INDEX ix_sessions_couple_id (couple_id),
    CONSTRAINT fk_sessions_couple_id FOREIGN KEY (couple_id) REFERENCES couples (id)
) ENGINE=InnoDB;

CREATE TABLE points (
    id         INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id    INT NOT NULL,
    couple_id  INT NULL,
    amount     INT NOT NULL,
    reason     VARCHAR(100) NOT NULL,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    INDEX ix_points_user_id (user_id),
    INDEX ix_points_couple_id (couple_id),
    CONSTRAINT fk_points_user_id FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_points_couple_id FOREIGN KEY (couple_id) REFERENCES couples (id)
) ENGINE=InnoDB;

CREATE TABLE streaks (
    id               INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    couple_id        INT NOT NULL,
    current_days     INT NOT NULL DEFAULT 0,
    longest_days     INT NOT NULL DEFAULT 0,
    last_activity_on DATE NULL,
    CONSTRAINT uq_streaks_couple_id UNIQUE (couple_id),
    CONSTRAINT fk_streaks_couple_id FOREIGN KEY (couple_id) REFERENCES couples (id)
) ENGINE=InnoDB;
