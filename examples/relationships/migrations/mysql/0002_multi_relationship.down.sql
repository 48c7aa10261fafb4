-- Undo 0002 on MySQL/MariaDB: a foreign key goes before its index, the index before its column.
ALTER TABLE streaks DROP FOREIGN KEY fk_streaks_relationship_id;
DROP INDEX uq_streaks_relationship_id ON streaks;
ALTER TABLE streaks DROP COLUMN relationship_id;
ALTER TABLE points DROP FOREIGN KEY fk_points_relationship_id;
DROP INDEX ix_points_relationship_id ON points;
ALTER TABLE points DROP COLUMN relationship_id;
ALTER TABLE sessions DROP FOREIGN KEY fk_sessions_relationship_id;
DROP INDEX ix_sessions_relationship_id ON sessions;
ALTER TABLE sessions DROP COLUMN relationship_id;
DROP TABLE relationship_lifecycle_events;
DROP TABLE relationship_members;
DROP TABLE relationships;
