-- alerts holds every spike alert transition written by internal/alerts: one
-- row per (alert_id, status), firing then resolved. A transition delivered
-- twice (a replica took over an unfinished delivery) collapses into one row
-- on merge (ReplacingMergeTree); query with FINAL for exact counts.
-- 18.16-compatible: plain String/DateTime columns, no TTL or codecs.
CREATE TABLE IF NOT EXISTS alerts (
    alert_id         String,
    status           String,
    level            String,
    at               DateTime,
    tenant           String,
    csp              String,
    target_id        String,
    product_name     String,
    product_version  String,
    code_space       String,
    code             Int64,
    code_hex         String,
    code_name        String,
    code_description String,
    category         String,
    failures         UInt64,
    devices          UInt64,
    peak             UInt64,
    baseline         Float64,
    factor           Float64,
    sample_devices   Array(String),
    first_seen       DateTime,
    resolved_at      DateTime,
    bucket_seconds   UInt32,
    summary          String,
    query            String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(first_seen)
ORDER BY (tenant, alert_id, status);
