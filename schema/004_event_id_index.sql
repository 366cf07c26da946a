-- requires: 21.8
-- A bloom-filter skip index on event_id makes the aggregator's redelivery
-- check (SELECT event_id ... WHERE event_id IN (...)) read a few granules
-- instead of every part in the time range. Data-skipping indexes are not
-- available on 18.16, so the runner applies this only on 21.8 or later and
-- leaves it pending on older servers (applied after an upgrade).
ALTER TABLE install_events ADD INDEX IF NOT EXISTS install_events_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 4;
