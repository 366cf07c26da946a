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
-- The old layout's columns are named: install_events has gained columns
-- since (005), which the copied rows leave at their defaults.
INSERT INTO install_events (
    event_id, schema_version, received_at, received_ms, tenant, device_id, session_id, msg_id, kind,
    cmd_id, cmd_ref, scope, csp, target_id, node, loc_uri, code, code_hex, win32_code, code_space,
    code_name, outcome, category, alert_type, mark, text, original_error, mdm_received_at,
    mdm_generic_alert, product_name, product_version, product_publisher, product_install_date,
    product_install_path, product_last_error_desc, stream_seq
) SELECT
    event_id, schema_version, received_at, received_ms, tenant, device_id, session_id, msg_id, kind,
    cmd_id, cmd_ref, scope, csp, target_id, node, loc_uri, code, code_hex, win32_code, code_space,
    code_name, outcome, category, alert_type, mark, text, original_error, mdm_received_at,
    mdm_generic_alert, product_name, product_version, product_publisher, product_install_date,
    product_install_path, product_last_error_desc, stream_seq
FROM install_events_pre_idempotent;
