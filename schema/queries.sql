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

-- name: failure_rate_by_product_version
-- Daily failure rate per product and version over the last 7 days. An event
-- counts if it is a final outcome (alerts and status results; a LastError of
-- 0 is not a success). Product name and version are the last ones the device
-- reported for the target (install_state), since install alerts carry none.
SELECT
    toStartOfDay(received_at) AS day,
    tenant,
    csp,
    if(pn = '', target_id, pn) AS product,
    pv AS version,
    countIf(outcome = 'failed') AS failed,
    countIf(outcome = 'succeeded') AS succeeded,
    round(failed / (failed + succeeded), 3) AS failure_rate,
    uniqExactIf(device_id, outcome = 'failed') AS failed_devices
FROM install_events FINAL
ANY LEFT JOIN (
    SELECT tenant, device_id, scope, csp, target_id,
        argMaxIfMerge(last_product_name) AS pn,
        argMaxIfMerge(last_product_version) AS pv
    FROM install_state
    GROUP BY tenant, device_id, scope, csp, target_id
) USING (tenant, device_id, scope, csp, target_id)
WHERE received_at >= now() - INTERVAL 7 DAY
    AND kind IN ('alert', 'result')
    AND outcome IN ('succeeded', 'failed')
    AND NOT (node = 'LastError' AND outcome = 'succeeded')
GROUP BY day, tenant, csp, product, version
ORDER BY day, tenant, csp, product, version;

-- name: top_failure_codes
-- The failure codes of the last 24 hours by events, with their names and
-- cause categories as ingest classified them, the devices and products hit.
SELECT
    tenant,
    code_space,
    code,
    any(code_hex) AS hex,
    any(code_name) AS name,
    any(category) AS category,
    count() AS events,
    uniqExact(device_id) AS devices,
    uniqExact(csp, target_id) AS products
FROM install_events FINAL
WHERE received_at >= now() - INTERVAL 24 HOUR AND outcome = 'failed'
GROUP BY tenant, code_space, code
ORDER BY events DESC, tenant, code_space, code
LIMIT 20;

-- name: stuck_devices
-- Devices whose latest state of a target is in progress, pending or
-- retrying, and has been since more than 4 hours: the first progress event
-- after the device's last final outcome is older than that.
SELECT
    tenant, device_id, scope, csp, target_id,
    any(s_pn) AS product,
    any(s_pv) AS version,
    any(s_outcome) AS state,
    any(s_code) AS code,
    min(received_at) AS since
FROM install_events FINAL
ANY INNER JOIN (
    SELECT tenant, device_id, scope, csp, target_id,
        argMaxIfMerge(last_outcome) AS s_outcome,
        argMaxIfMerge(last_code) AS s_code,
        argMaxIfMerge(last_product_name) AS s_pn,
        argMaxIfMerge(last_product_version) AS s_pv,
        maxIfMerge(last_final_at) AS s_final
    FROM install_state
    GROUP BY tenant, device_id, scope, csp, target_id
    HAVING s_outcome IN ('in_progress', 'pending', 'retrying')
) USING (tenant, device_id, scope, csp, target_id)
WHERE outcome IN ('in_progress', 'pending', 'retrying') AND received_at > s_final
GROUP BY tenant, device_id, scope, csp, target_id
HAVING since <= now() - INTERVAL 4 HOUR
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
-- One device's install history, newest first.
SELECT
    received_at, received_ms, kind, scope, csp, target_id,
    product_name, product_version, node, code, code_hex, code_name,
    outcome, category, text, original_error, session_id, msg_id
FROM install_events FINAL
WHERE tenant = 'TENANT' AND device_id = 'DEVICE-ID'
ORDER BY received_at DESC, received_ms DESC, cmd_id DESC
LIMIT 200;

-- name: devices_failing_product_now
-- Devices whose latest state of a product (name as reported, or target id)
-- is failed, with the code that failed it.
SELECT
    tenant, device_id, scope, csp, target_id,
    argMaxIfMerge(last_product_name) AS product,
    argMaxIfMerge(last_product_version) AS version,
    argMaxIfMerge(last_code_space) AS code_space,
    argMaxIfMerge(last_code) AS code,
    argMaxIfMerge(last_category) AS category,
    maxMerge(last_at) AS last_seen
FROM install_state
WHERE tenant = 'TENANT'
GROUP BY tenant, device_id, scope, csp, target_id
HAVING argMaxIfMerge(last_outcome) = 'failed' AND (product = 'PRODUCT' OR target_id = 'PRODUCT')
ORDER BY last_seen DESC;
