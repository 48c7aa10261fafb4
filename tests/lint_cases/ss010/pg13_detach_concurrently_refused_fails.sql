-- dialect: postgresql
-- rows: events=5000000
-- server: PostgreSQL 13.12
-- expect: SS010@error
ALTER TABLE events DETACH PARTITION events_2019 CONCURRENTLY;
