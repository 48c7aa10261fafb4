-- Undo 0002 (generic: PostgreSQL and SQLite 3.35+; mysql/ overrides it).
-- Indexes go before their columns: SQLite refuses to drop an indexed column.
DROP INDEX uq_streaks_relationship_id;
ALTER TABLE streaks DROP COLUMN relationship_id;
DROP INDEX ix_points_relationship_id;
ALTER TABLE points DROP COLUMN relationship_id;
DROP INDEX ix_sessions_relationship_id;
ALTER TABLE sessions DROP COLUMN relationship_id;
DROP TABLE relationship_lifecycle_events;
DROP TABLE relationship_members;
DROP TABLE relationships;
