-- 0002 for SQLite: INTEGER PRIMARY KEY ids, and correlated subqueries instead of
-- UPDATE ... FROM (older SQLite versions lack it). Same schema and data as the generic file,
-- whose comments explain the change. The generic down file serves SQLite too.

CREATE TABLE relationships (
    id                INTEGER PRIMARY KEY,
    legacy_couple_id  INTEGER REFERENCES couples (id),
    relationship_type VARCHAR(32) NOT NULL DEFAULT 'ROMANTIC_COUPLE',
    status            VARCHAR(16) NOT NULL DEFAULT 'ACTIVE',
    invite_code       VARCHAR(16) NOT NULL,
    created_at        TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at        TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT uq_relationships_invite_code UNIQUE (invite_code),
    CONSTRAINT uq_relationships_legacy_couple_id UNIQUE (legacy_couple_id)
);

CREATE TABLE relationship_members (
    id              INTEGER PRIMARY KEY,
    relationship_id INTEGER NOT NULL REFERENCES relationships (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    role            VARCHAR(16) NOT NULL,
    joined_at       TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    left_at         TIMESTAMP,
    CONSTRAINT uq_relationship_members_member UNIQUE (relationship_id, user_id)
);
CREATE INDEX ix_relationship_members_user_id ON relationship_members (user_id);

CREATE TABLE relationship_lifecycle_events (
    id              INTEGER PRIMARY KEY,
    relationship_id INTEGER NOT NULL REFERENCES relationships (id) ON DELETE CASCADE,
    event_type      VARCHAR(32) NOT NULL,
    actor_user_id   INTEGER REFERENCES users (id),
    occurred_at     TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    note            VARCHAR(255)
);
CREATE INDEX ix_relationship_lifecycle_events_relationship_id ON relationship_lifecycle_events (relationship_id);

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

ALTER TABLE sessions ADD COLUMN relationship_id INTEGER REFERENCES relationships (id);
UPDATE sessions SET relationship_id =
    (SELECT r.id FROM relationships r WHERE r.legacy_couple_id = sessions.couple_id)
WHERE couple_id IS NOT NULL;
-- safeshift: allow SS001 because the cutover runs in the seed's maintenance window (new sessions stopped first); the table is indexed once, right after its column is added
CREATE INDEX ix_sessions_relationship_id ON sessions (relationship_id);

ALTER TABLE points ADD COLUMN relationship_id INTEGER REFERENCES relationships (id);
UPDATE points SET relationship_id =
    (SELECT r.id FROM relationships r WHERE r.legacy_couple_id = points.couple_id)
WHERE couple_id IS NOT NULL;
-- safeshift: allow SS001 because the cutover runs in the seed's maintenance window (new sessions stopped first); the table is indexed once, right after its column is added
CREATE INDEX ix_points_relationship_id ON points (relationship_id);

ALTER TABLE streaks ADD COLUMN relationship_id INTEGER REFERENCES relationships (id);
-- safeshift: allow SS007 because one set-based UPDATE per table inside the maintenance window: every row needs its relationship_id and nothing else writes meanwhile
UPDATE streaks SET relationship_id =
    (SELECT r.id FROM relationships r WHERE r.legacy_couple_id = streaks.couple_id);
-- safeshift: allow SS001 because the cutover runs in the seed's maintenance window (new sessions stopped first); the table is indexed once, right after its column is added
CREATE UNIQUE INDEX uq_streaks_relationship_id ON streaks (relationship_id);
