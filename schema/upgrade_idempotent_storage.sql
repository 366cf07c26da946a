-- Upgrade of a cspwatch database created before exactly-once storage
-- (install_events on plain MergeTree, rollups counting with sum). Not a
-- migration: `aggregator migrate` refuses to start on the old layout and
-- names this file. Run it with clickhouse-client --multiquery in two steps.
--
-- Step 1, with every aggregator stopped: move the old tables aside and
-- forget the migrations that created them.
-- name: before
RENAME TABLE install_events TO install_events_pre_idempotent;
DROP TABLE IF EXISTS install_rollup_hourly_mv;
DROP TABLE IF EXISTS install_state_mv;
RENAME TABLE install_rollup_hourly TO install_rollup_hourly_pre_idempotent;
RENAME TABLE install_state TO install_state_pre_idempotent;
ALTER TABLE schema_migrations DELETE WHERE version <= 3;
--
-- Then run `aggregator migrate` (or start the aggregators): it creates the
-- new tables. Step 2, while the aggregators run: copy the old events; the
-- materialized views rebuild both rollups from them, and a row the copy and
-- an aggregator both write is collapsed like any repeat. Drop the
-- *_pre_idempotent tables when the counts agree.
-- name: after
INSERT INTO install_events SELECT * FROM install_events_pre_idempotent;
