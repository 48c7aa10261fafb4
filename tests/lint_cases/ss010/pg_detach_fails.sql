-- dialect: postgresql
-- rows: events=5000000
-- expect: squawk:require-concurrent-partition-detach@error
ALTER TABLE events DETACH PARTITION events_2019;
