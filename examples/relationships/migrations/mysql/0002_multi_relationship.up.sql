-- 0002 for MySQL/MariaDB: AUTO_INCREMENT, DATETIME, table-level foreign keys, UPDATE ... JOIN.
-- Same schema and data as the generic file, whose comments explain the change.
-- DDL commits by itself here, so safeshift runs these statements one by one; a failure
-- half-way is undone by the backup restore of the plan's rollback strategy.

CREATE TABLE relationships (
    id                INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    legacy_couple_id  INT NULL,
    relationship_type VARCHAR(32) NOT NULL DEFAULT 'ROMANTIC_COUPLE',
    status            VARCHAR(16) NOT NULL DEFAULT 'ACTIVE',
    invite_code       VARCHAR(16) NOT NULL,
    created_at        DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at        DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT uq_relationships_invite_code UNIQUE (invite_code),
    CONSTRAINT uq_relationships_legacy_couple_id UNIQUE (legacy_couple_id),
    CONSTRAINT fk_relationships_legacy_couple_id FOREIGN KEY (legacy_couple_id) REFERENCES couples (id)
) ENGINE=InnoDB;

CREATE TABLE relationship_members (
    id              INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    relationship_id INT NOT NULL,
    user_id         INT NOT NULL,
    role            VARCHAR(16) NOT NULL,
    joined_at       DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    left_at         DATETIME NULL,
    CONSTRAINT uq_relationship_members_member UNIQUE (relationship_id, user_id),
    INDEX ix_relationship_members_user_id (user_id),
    CONSTRAINT fk_relationship_members_relationship_id FOREIGN KEY (relationship_id)
        REFERENCES relationships (id) ON DELETE CASCADE,
    CONSTRAINT fk_relationship_members_user_id FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE=InnoDB;

CREATE TABLE relationship_lifecycle_events (
    id              INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    relationship_id INT NOT NULL,
    event_type      VARCHAR(32) NOT NULL,
    actor_user_id   INT NULL,
    occurred_at     DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    note            VARCHAR(255) NULL,
    INDEX ix_relationship_lifecycle_events_relationship_id (relationship_id),
    CONSTRAINT fk_relationship_lifecycle_events_relationship_id FOREIGN KEY (relationship_id)
        REFERENCES relationships (id) ON DELETE CASCADE,
    CONSTRAINT fk_relationship_lifecycle_events_actor_user_id FOREIGN KEY (actor_user_id) REFERENCES users (id)
) ENGINE=InnoDB;

INSERT INTO relationships (legacy_couple_id, relationship_type, status, invite_code, created_at, updated_at)
SELECT id, 'ROMANTIC_COUPLE', CASE WHEN partner2_id IS NULL THEN 'PENDING' ELSE 'ACTIVE' END,
       invite_code, created_at, created_at
FROM couples
ORDER BY id;

INSERT INTO relationship_members (relationship_id, user_id, role, joined_at)
SELECT r.id, c.partner1_id, 'CREATOR', c.created_at
FROM couples c JOIN relationships r ON r.legacy_couple_id = c.id;

INSERT INTO relationship_members (relationship_id, user_id, role, joined_at)
SELECT r.id, c.partner2_id, 'PARTNER', c.created_at
FROM couples c JOIN relationships r ON r.legacy_couple_id = c.id
WHERE c.partner2_id IS NOT NULL;

INSERT INTO relationship_lifecycle_events (relationship_id, event_type, actor_user_id, occurred_at, note)
SELECT r.id, 'CREATED', c.partner1_id, c.created_at, 'migrated from couples'
FROM couples c JOIN relationships r ON r.legacy_couple_id = c.id;

-- the index comes before the foreign key, so MySQL uses it instead of adding its own
ALTER TABLE sessions ADD COLUMN relationship_id INT NULL;
CREATE INDEX ix_sessions_relationship_id ON sessions (relationship_id);
-- safeshift: allow SS004 because the column is new and still empty when its key is added, inside the maintenance window: there is nothing to validate yet
ALTER TABLE sessions ADD CONSTRAINT fk_sessions_relationship_id
    FOREIGN KEY (relationship_id) REFERENCES relationships (id);
-- safeshift: allow SS007 because one set-based UPDATE per table inside the maintenance window: every row needs its relationship_id and nothing else writes meanwhile
UPDATE sessions s JOIN relationships r ON r.legacy_couple_id = s.couple_id SET s.relationship_id = r.id;

ALTER TABLE points ADD COLUMN relationship_id INT NULL;
CREATE INDEX ix_points_relationship_id ON points (relationship_id);
-- safeshift: allow SS004 because the column is new and still empty when its key is added, inside the maintenance window: there is nothing to validate yet
ALTER TABLE points ADD CONSTRAINT fk_points_relationship_id
    FOREIGN KEY (relationship_id) REFERENCES relationships (id);
-- safeshift: allow SS007 because one set-based UPDATE per table inside the maintenance window: every row needs its relationship_id and nothing else writes meanwhile
UPDATE points p JOIN relationships r ON r.legacy_couple_id = p.couple_id SET p.relationship_id = r.id;

ALTER TABLE streaks ADD COLUMN relationship_id INT NULL;
CREATE UNIQUE INDEX uq_streaks_relationship_id ON streaks (relationship_id);
-- safeshift: allow SS004 because the column is new and still empty when its key is added, inside the maintenance window: there is nothing to validate yet
ALTER TABLE streaks ADD CONSTRAINT fk_streaks_relationship_id
    FOREIGN KEY (relationship_id) REFERENCES relationships (id);
-- safeshift: allow SS007 because one set-based UPDATE per table inside the maintenance window: every row needs its relationship_id and nothing else writes meanwhile
UPDATE streaks s JOIN relationships r ON r.legacy_couple_id = s.couple_id SET s.relationship_id = r.id;

ANALYZE TABLE relationships, relationship_members, relationship_lifecycle_events;
