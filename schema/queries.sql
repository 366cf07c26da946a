-- cspwatch: the analyses an administrator runs in clickhouse-client.
--
-- Each query starts with a "-- name:" line. Replace the placeholders
-- 'TENANT', 'DEVICE-ID' and 'PRODUCT' (kept as string literals so every query
-- runs as written) and adjust the INTERVALs. Every query runs on ClickHouse
-- 18.16 and later; internal/store's tests run each of them against a known
-- fleet. The aggregate tables are read with -Merge functions grouped by
-- their key: background merges are never assumed to be complete.
-- install_events is read with FINAL: a redelivered event may be stored twice
-- until a merge collapses the copies (schema/001), and FINAL counts it once.
--
-- Products are named by the product catalog (schema/007): the subquery
-- over product_catalog FINAL gives, per (tenant, csp, target_id), the value
-- of each field from the highest-priority source that has one (admin 3,
-- inventory 2, command 1), and cat_known, whether any source named it. A
-- target nothing names shows as its id marked "(unknown product)".

-- name: failure_rate_by_product_version
-- Daily failure rate per product and version over the last 7 days. An event
-- counts if it is a final outcome (alerts and status results; a LastError of
-- 0 is not a success). The product is the catalog's name, since install
-- alerts carry none; the version is the last one the device reported for
-- the target (install_state), else the catalog's.
SELECT
    toStartOfDay(received_at) AS day,
    tenant,
    csp,
    if(cat_known, cat_name, concat(target_id, ' (unknown product)')) AS product,
    if(pv != '', pv, cat_version) AS version,
    countIf(outcome = 'failed') AS failed,
    countIf(outcome = 'succeeded') AS succeeded,
    round(failed / (failed + succeeded), 3) AS failure_rate,
    uniqExactIf(device_id, outcome = 'failed') AS failed_devices
FROM (
    SELECT received_at, tenant, device_id, csp, target_id, outcome, pv
    FROM install_events FINAL
    ANY LEFT JOIN (
        SELECT tenant, device_id, scope, csp, target_id,
            argMaxIfMerge(last_product_version) AS pv
        FROM install_state
        GROUP BY tenant, device_id, scope, csp, target_id
    ) USING (tenant, device_id, scope, csp, target_id)
    WHERE received_at >= now() - INTERVAL 7 DAY
        AND kind IN ('alert', 'result')
        AND outcome IN ('succeeded', 'failed')
        AND NOT (node = 'LastError' AND outcome = 'succeeded')
)
ANY LEFT JOIN (
    SELECT tenant, csp, target_id,
        argMaxIf(name, priority, name != '') AS cat_name,
        argMaxIf(version, priority, version != '') AS cat_version,
        max(name != '') AS cat_known
    FROM product_catalog FINAL
    GROUP BY tenant, csp, target_id
) USING (tenant, csp, target_id)
GROUP BY day, tenant, csp, product, version
ORDER BY day, tenant, csp, product, version;

-- name: top_failure_codes
-- The failure codes of the last 24 hours by events, with their names and
-- cause categories as ingest classified them, the devices and products hit,
-- and the (about) three products hit most, named by the catalog.
SELECT
    tenant,
    code_space,
    code,
    any(code_hex) AS hex,
    any(code_name) AS name,
    any(category) AS category,
    count() AS events,
    uniqExact(device_id) AS devices,
    uniqExact(csp, target_id) AS products,
    topKIf(3)(if(cat_known, cat_name, concat(target_id, ' (unknown product)')), target_id != '') AS top_products
FROM (
    SELECT tenant, code_space, code, code_hex, code_name, category, device_id, csp, target_id
    FROM install_events FINAL
    WHERE received_at >= now() - INTERVAL 24 HOUR AND outcome = 'failed'
)
ANY LEFT JOIN (
    SELECT tenant, csp, target_id,
        argMaxIf(name, priority, name != '') AS cat_name,
        max(name != '') AS cat_known
    FROM product_catalog FINAL
    GROUP BY tenant, csp, target_id
) USING (tenant, csp, target_id)
GROUP BY tenant, code_space, code
ORDER BY events DESC, tenant, code_space, code
LIMIT 20;

-- name: stuck_devices
-- Devices whose latest state of a target is in progress, pending or
-- retrying, and has been since more than 4 hours: the first progress event
-- after the device's last final outcome is older than that.
SELECT
    tenant, device_id, scope, csp, target_id,
    if(cat_known, cat_name, concat(target_id, ' (unknown product)')) AS product,
    if(pv != '', pv, cat_version) AS version,
    state,
    state_code AS code,
    since
FROM (
    SELECT
        tenant, device_id, scope, csp, target_id,
        any(s_pv) AS pv,
        any(s_outcome) AS state,
        any(s_code) AS state_code,
        min(received_at) AS since
    FROM install_events FINAL
    ANY INNER JOIN (
        SELECT tenant, device_id, scope, csp, target_id,
            argMaxIfMerge(last_outcome) AS s_outcome,
            argMaxIfMerge(last_code) AS s_code,
            argMaxIfMerge(last_product_version) AS s_pv,
            maxIfMerge(last_final_at) AS s_final
        FROM install_state
        GROUP BY tenant, device_id, scope, csp, target_id
        HAVING s_outcome IN ('in_progress', 'pending', 'retrying')
    ) USING (tenant, device_id, scope, csp, target_id)
    WHERE outcome IN ('in_progress', 'pending', 'retrying') AND received_at > s_final
    GROUP BY tenant, device_id, scope, csp, target_id
    HAVING since <= now() - INTERVAL 4 HOUR
)
ANY LEFT JOIN (
    SELECT tenant, csp, target_id,
        argMaxIf(name, priority, name != '') AS cat_name,
        argMaxIf(version, priority, version != '') AS cat_version,
        max(name != '') AS cat_known
    FROM product_catalog FINAL
    GROUP BY tenant, csp, target_id
) USING (tenant, csp, target_id)
ORDER BY since, tenant, device_id;

-- name: codes_new_in_last_hour
-- Failure codes seen in the last hour that no failure of the same tenant and
-- CSP carried in the 7 days before.
SELECT
    tenant, csp, code_space, code,
    any(code_name) AS name,
    any(category) AS category,
    count() AS events,
    uniqExact(device_id) AS devices,
    min(received_at) AS first_seen
FROM install_events FINAL
WHERE received_at >= now() - INTERVAL 1 HOUR AND outcome = 'failed'
    AND (tenant, csp, code_space, code) NOT IN (
        SELECT tenant, csp, code_space, code
        FROM install_events FINAL
        WHERE received_at >= now() - INTERVAL 169 HOUR
            AND received_at < now() - INTERVAL 1 HOUR
            AND outcome = 'failed'
        GROUP BY tenant, csp, code_space, code
    )
GROUP BY tenant, csp, code_space, code
ORDER BY events DESC, tenant, csp, code;

-- name: device_history
-- One device's install history, newest first. The product is the catalog's
-- name (empty for an event with no target); the version the event's, else
-- the catalog's.
SELECT
    received_at, received_ms, kind, scope, csp, target_id,
    multiIf(target_id = '', '', cat_known, cat_name, concat(target_id, ' (unknown product)')) AS product,
    if(product_version != '', product_version, cat_version) AS version,
    node, code, code_hex, code_name,
    outcome, category, text, original_error, session_id, msg_id
FROM (
    SELECT
        received_at, received_ms, cmd_id, kind, scope, tenant, csp, target_id,
        product_version, node, code, code_hex, code_name,
        outcome, category, text, original_error, session_id, msg_id
    FROM install_events FINAL
    WHERE tenant = 'TENANT' AND device_id = 'DEVICE-ID'
)
ANY LEFT JOIN (
    SELECT tenant, csp, target_id,
        argMaxIf(name, priority, name != '') AS cat_name,
        argMaxIf(version, priority, version != '') AS cat_version,
        max(name != '') AS cat_known
    FROM product_catalog FINAL
    WHERE tenant = 'TENANT'
    GROUP BY tenant, csp, target_id
) USING (tenant, csp, target_id)
ORDER BY received_at DESC, received_ms DESC, cmd_id DESC
LIMIT 200;

-- name: devices_failing_product_now
-- Devices whose latest state of a product (the catalog's name, or the
-- target id) is failed, with the code that failed it.
SELECT
    tenant, device_id, scope, csp, target_id,
    if(cat_known, cat_name, concat(target_id, ' (unknown product)')) AS product,
    if(pv != '', pv, cat_version) AS version,
    code_space, code, category, last_seen
FROM (
    SELECT
        tenant, device_id, scope, csp, target_id,
        argMaxIfMerge(last_product_version) AS pv,
        argMaxIfMerge(last_code_space) AS code_space,
        argMaxIfMerge(last_code) AS code,
        argMaxIfMerge(last_category) AS category,
        maxMerge(last_at) AS last_seen
    FROM install_state
    WHERE tenant = 'TENANT'
    GROUP BY tenant, device_id, scope, csp, target_id
    HAVING argMaxIfMerge(last_outcome) = 'failed'
)
ANY LEFT JOIN (
    SELECT tenant, csp, target_id,
        argMaxIf(name, priority, name != '') AS cat_name,
        argMaxIf(version, priority, version != '') AS cat_version,
        max(name != '') AS cat_known
    FROM product_catalog FINAL
    WHERE tenant = 'TENANT'
    GROUP BY tenant, csp, target_id
) USING (tenant, csp, target_id)
WHERE product = 'PRODUCT' OR target_id = 'PRODUCT'
ORDER BY last_seen DESC;
