-- dialect: postgresql
-- rows: events=5000000
-- server: 11.22
-- expect: SS010@error
ALTER TABLE events ATTACH PARTITION events_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
