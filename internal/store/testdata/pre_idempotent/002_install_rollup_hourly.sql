-- install_rollup_hourly counts events and distinct devices per hour, tenant,
-- CSP, target, code and outcome. The materialized view sees only rows that
-- reach install_events, so a replay the aggregator filters out never counts
-- twice. Read it with sumMerge(events) and uniqMerge(devices) grouped by the
-- key: parts are merged in the background, so one key may have several rows.
-- product_name/product_version are what the event itself carried (empty when
-- it carried none); attribute versions through install_state instead when
-- they matter.
CREATE TABLE IF NOT EXISTS install_rollup_hourly (
    hour            DateTime,
    tenant          String,
    csp             String,
    target_id       String,
    code_space      String,
    code            Int64,
    outcome         String,
    events          AggregateFunction(sum, UInt64),
    devices         AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant, csp, target_id, hour, code_space, code, outcome);

CREATE MATERIALIZED VIEW IF NOT EXISTS install_rollup_hourly_mv
TO install_rollup_hourly
AS SELECT
    toStartOfHour(received_at) AS hour,
    tenant,
    csp,
    target_id,
    code_space,
    code,
    outcome,
    sumState(toUInt64(1)) AS events,
    uniqState(device_id) AS devices
FROM install_events
GROUP BY hour, tenant, csp, target_id, code_space, code, outcome;
