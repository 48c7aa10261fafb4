-- 0001 baseline for SQLite: INTEGER PRIMARY KEY instead of identity columns.
-- (The generic file has the comments; the schema is the same.)

CREATE TABLE users (
    id           INTEGER PRIMARY KEY,
    email        VARCHAR(255) NOT NULL,
    display_name VARCHAR(100) NOT NULL,
    created_at   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT uq_users_email UNIQUE (email)
);

CREATE TABLE couples (
    id          INTEGER PRIMARY KEY,
    partner1_id INTEGER NOT NULL REFERENCES users (id),
    partner2_id INTEGER REFERENCES users (id),
    invite_code VARCHAR(16) NOT NULL,
    created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX ix_couples_partner1_id ON couples (partner1_id);
CREATE INDEX ix_couples_partner2_id ON couples (partner2_id);
CREATE INDEX ix_couples_invite_code ON couples (invite_code);

CREATE TABLE sessions (
    id               INTEGER PRIMARY KEY,
    couple_id        INTEGER REFERENCES couples (id),
    started_at       TIMESTAMP NOT NULL,
    duration_seconds INTEGER NOT NULL,
    score            INTEGER
);
CREATE INDEX ix_sessions_couple_id ON sessions (couple_id);

CREATE TABLE points (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    couple_id  INTEGER REFERENCES couples (id),
    amount     INTEGER NOT NULL,
    reason     VARCHAR(100) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX ix_points_user_id ON points (user_id);
CREATE INDEX ix_points_couple_id ON points (couple_id);

CREATE TABLE streaks (
    id               INTEGER PRIMARY KEY,
    couple_id        INTEGER NOT NULL REFERENCES couples (id),
    current_days     INTEGER NOT NULL DEFAULT 0,
    longest_days     INTEGER NOT NULL DEFAULT 0,
    last_activity_on DATE,
    CONSTRAINT uq_streaks_couple_id UNIQUE (couple_id)
);
