-- dialect: postgresql
-- rows: events=5000000
-- server: PostgreSQL 14.0
-- expect: none
ALTER TABLE events DETACH PARTITION events_2019 CONCURRENTLY;
