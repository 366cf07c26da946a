-- install_state is the latest known state of each (tenant, device, scope,
-- csp, target): "which devices fail product X now". Each column is an
-- aggregate state merged in the background; read with the -Merge functions
-- grouped by the key (see schema/queries.sql).
--
-- ver orders events: milliseconds since the epoch times 1024 plus the
-- device's CmdID, so that two events of one message keep the device's order.
--
-- Fed only by events that say something about the install: alerts and
-- results with a known outcome, except a LastError of 0 (it says "no error",
-- not "installed", and would hide an install still in progress); and statuses
-- that failed or were accepted for processing (a 200 to an Add or Exec means
-- the command ran, not that the install finished). Product name and version
-- keep the last non-empty value seen, whatever event carried it, inventory
-- events included.
CREATE TABLE IF NOT EXISTS install_state (
    tenant          String,
    device_id       String,
    scope           String,
    csp             String,
    target_id       String,
    last_at         AggregateFunction(max, DateTime),
    first_at        AggregateFunction(min, DateTime),
    last_final_at   AggregateFunction(maxIf, DateTime, UInt8),
    last_outcome    AggregateFunction(argMaxIf, String, UInt64, UInt8),
    last_code       AggregateFunction(argMaxIf, Int64, UInt64, UInt8),
    last_code_space AggregateFunction(argMaxIf, String, UInt64, UInt8),
    last_category   AggregateFunction(argMaxIf, String, UInt64, UInt8),
    last_product_name    AggregateFunction(argMaxIf, String, UInt64, UInt8),
    last_product_version AggregateFunction(argMaxIf, String, UInt64, UInt8),
    events          AggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree
ORDER BY (tenant, csp, target_id, device_id, scope);

-- The state columns are named last_* so that no alias of the view shadows a
-- column of install_events (18.16 resolves an alias before a column of the
-- same name). ver and counts are spelled out in each call for the same
-- reason: 18.16 loses subquery aliases when it pushes a block to a view.
CREATE MATERIALIZED VIEW IF NOT EXISTS install_state_mv
TO install_state
AS SELECT
    tenant,
    device_id,
    scope,
    csp,
    target_id,
    maxState(received_at) AS last_at,
    minState(received_at) AS first_at,
    maxIfState(received_at, toUInt8(toUInt8((kind IN ('alert', 'result') AND outcome != 'unknown' AND NOT (node = 'LastError' AND outcome = 'succeeded')) OR (kind = 'status' AND outcome IN ('failed', 'in_progress'))) AND outcome IN ('succeeded', 'failed'))) AS last_final_at,
    argMaxIfState(outcome, ((toUInt64(toUnixTimestamp(received_at)) * 1000 + received_ms) * 1024 + toUInt64(bitAnd(cmd_id, 1023))), toUInt8((kind IN ('alert', 'result') AND outcome != 'unknown' AND NOT (node = 'LastError' AND outcome = 'succeeded')) OR (kind = 'status' AND outcome IN ('failed', 'in_progress')))) AS last_outcome,
    argMaxIfState(code, ((toUInt64(toUnixTimestamp(received_at)) * 1000 + received_ms) * 1024 + toUInt64(bitAnd(cmd_id, 1023))), toUInt8((kind IN ('alert', 'result') AND outcome != 'unknown' AND NOT (node = 'LastError' AND outcome = 'succeeded')) OR (kind = 'status' AND outcome IN ('failed', 'in_progress')))) AS last_code,
    argMaxIfState(code_space, ((toUInt64(toUnixTimestamp(received_at)) * 1000 + received_ms) * 1024 + toUInt64(bitAnd(cmd_id, 1023))), toUInt8((kind IN ('alert', 'result') AND outcome != 'unknown' AND NOT (node = 'LastError' AND outcome = 'succeeded')) OR (kind = 'status' AND outcome IN ('failed', 'in_progress')))) AS last_code_space,
    argMaxIfState(category, ((toUInt64(toUnixTimestamp(received_at)) * 1000 + received_ms) * 1024 + toUInt64(bitAnd(cmd_id, 1023))), toUInt8((kind IN ('alert', 'result') AND outcome != 'unknown' AND NOT (node = 'LastError' AND outcome = 'succeeded')) OR (kind = 'status' AND outcome IN ('failed', 'in_progress')))) AS last_category,
    argMaxIfState(product_name, ((toUInt64(toUnixTimestamp(received_at)) * 1000 + received_ms) * 1024 + toUInt64(bitAnd(cmd_id, 1023))), toUInt8(product_name != '')) AS last_product_name,
    argMaxIfState(product_version, ((toUInt64(toUnixTimestamp(received_at)) * 1000 + received_ms) * 1024 + toUInt64(bitAnd(cmd_id, 1023))), toUInt8(product_version != '')) AS last_product_version,
    sumState(toUInt64(1)) AS events
FROM install_events
WHERE target_id != ''
GROUP BY tenant, device_id, scope, csp, target_id;
