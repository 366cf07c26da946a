-- install_events holds every install event, one row per contract-v1 event,
-- with the product object flattened.
--
-- Exactly once, whatever the timing: the engine is ReplacingMergeTree, so a
-- row written twice (a redelivered message stored by a replica that was
-- paused with its INSERT open, or by the replica the message was handed to;
-- a batch redelivered after nats-server lost its consumer state) is the same
-- row twice: same event, same stream_seq, same sorting key. Background
-- merges keep one, and readers that count rows read with FINAL (or count
-- uniqExact(event_id)) so that a copy not merged yet is never counted. No
-- check before insert can close that race on 18.16 (no transactions, no
-- insert deduplication on non-replicated tables); idempotent storage does. received_at is whole seconds (DateTime:
-- DateTime64 does not exist on 18.16); received_ms holds the milliseconds.
-- stream_seq is the JetStream sequence the row came from, for tracing.
-- Strings rather than LowCardinality/Enum: 18.16 has no LowCardinality, and
-- an Enum would need an ALTER for every value the contract adds.
-- ORDER BY serves the common queries: one tenant, one CSP and product, over
-- time; partitions are months so old data is dropped a partition at a time.
CREATE TABLE IF NOT EXISTS install_events (
    event_id                String,
    schema_version          UInt8,
    received_at             DateTime,
    received_ms             UInt16,
    tenant                  String,
    device_id               String,
    session_id              String,
    msg_id                  String,
    kind                    String,
    cmd_id                  Int64,
    cmd_ref                 Int64,
    scope                   String,
    csp                     String,
    target_id               String,
    node                    String,
    loc_uri                 String,
    code                    Int64,
    code_hex                String,
    win32_code              Int64,
    code_space              String,
    code_name               String,
    outcome                 String,
    category                String,
    alert_type              String,
    mark                    String,
    text                    String,
    original_error          String,
    mdm_received_at         String,
    mdm_generic_alert       String,
    product_name            String,
    product_version         String,
    product_publisher       String,
    product_install_date    String,
    product_install_path    String,
    product_last_error_desc String,
    stream_seq              UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (tenant, csp, target_id, received_at, event_id);
