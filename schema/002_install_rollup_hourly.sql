-- install_rollup_hourly counts events and distinct devices per hour, tenant,
-- CSP, target, code and outcome.
--
-- A materialized view runs on every block inserted into install_events,
-- including a block that repeats rows already stored (see 001). So every
-- state here is idempotent: events is the set of the events' hashes
-- (uniqExact of sipHash64(event_id)), devices a uniq sketch of device ids;
-- a row counted twice is one element of a set, not a sum of two. seq_block
-- (the JetStream sequence / 65536) splits a busy key's hour into sets of at
-- most 65,536 elements, so that no single state grows with the traffic of a
-- whole hour: a merge holds at most ~1 MB of hashes for one key.
--
-- Read with uniqExactMerge(events) and uniqMerge(devices) grouped by the key
-- without seq_block: the union of the sets counts each event once. Parts are
-- merged in the background, so one key may have several rows. The cost of
-- exactness: reading the rollup merges hashes (8 bytes an event) instead of
-- adding counters.
CREATE TABLE IF NOT EXISTS install_rollup_hourly (
    hour            DateTime,
    tenant          String,
    csp             String,
    target_id       String,
    code_space      String,
    code            Int64,
    outcome         String,
    seq_block       UInt64,
    events          AggregateFunction(uniqExact, UInt64),
    devices         AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant, csp, target_id, hour, code_space, code, outcome, seq_block);

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
    intDiv(stream_seq, 65536) AS seq_block,
    uniqExactState(sipHash64(event_id)) AS events,
    uniqState(device_id) AS devices
FROM install_events
GROUP BY hour, tenant, csp, target_id, code_space, code, outcome, seq_block;
