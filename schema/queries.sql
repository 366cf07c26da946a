-- cspwatch: the analyses an administrator runs in clickhouse-client.
--
-- Every query counts install attempts or devices, never raw events: it reads
-- the view install_attempts (schema/008, DESIGN.md "Install attempts"), one
-- row per attempt of one target on one device with an event in the last 30
-- days, with the product's name, the version being installed, the outcome
-- and one cause per failed attempt, or latest_install_attempts (schema/009),
-- each target's latest attempt on each device. One failed MSI install (its
-- alert, MSI Status 60 and LastError 0x80070643) is one failed attempt with
-- cause win32 1603. A cause is shown as code_space and code, with code_hex
-- its HRESULT form (the code itself when it is an HRESULT, 0x8007xxxx for a
-- Win32 code) and the name and category ingest gave it, all from the view
-- install_causes (schema/009; advice: aggregator report).
-- internal/store's tests run every query on ClickHouse 18.16 against a
-- fleet with known counts.
--
-- Parameters are ClickHouse query parameters, written {name:Type} in a
-- query, declared here as "-- param NAME Type [= DEFAULT] description"
-- (a String default in quotes):
--
-- param tenant String = ''          only this tenant; '' reads every tenant
-- param since_hours UInt32 = 24     the window: attempts with an event in the last N hours (720 at most: the view holds 30 days)
-- param stuck_hours UInt32 = 4      an attempt still in progress, pending or retrying N hours after it was requested is stuck
-- param baseline_days UInt32 = 7    a cause is new when no attempt failed with it in the N days before the last hour (29 at most)
-- param device_id String            the device whose attempts device_history lists
-- param product String              the product of devices_failing_product_now: its name (product column) or its target id
--
-- Run them:
--   aggregator sql list                       the queries and the parameters each takes
--   aggregator sql run top_causes --param tenant=contoso
--                                             one query, parameters checked, against --clickhouse-addr
--   aggregator sql render --param device_id=DEV --param product='Contoso VPN' \
--       | clickhouse-client --multiquery      every query, parameters substituted as literals: any
--                                             clickhouse-client, 18.16 included (it has no parameters)
--   clickhouse-client --multiquery --param_tenant=contoso --param_since_hours=24 --param_stuck_hours=4 \
--       --param_baseline_days=7 --param_device_id=DEV --param_product='Contoso VPN' < schema/queries.sql
--                                             ClickHouse 19.x and later natively: the client knows no
--                                             defaults, so give every parameter
-- A query's rows are sorted by harm: devices first.

-- name: failure_rate_by_product_version
-- Per product and version being installed, over the attempts of the window:
-- the devices that tried to install it, where each device's latest attempt
-- stands (succeeded, failed, active: in progress, pending or retrying),
-- the attempts and the failed attempts, and the failure rate in devices,
-- failed / (succeeded + failed). A device that failed and then succeeded
-- with a new command counts as succeeded. Attempts that only saw inventory
-- (outcome unknown) are not installs and are left out.
SELECT
    tenant, csp, product, version, target_id,
    uniqExact(device_id) AS devices,
    uniqExactIf(device_id, last_outcome = 'succeeded') AS succeeded,
    uniqExactIf(device_id, last_outcome = 'failed') AS failed,
    uniqExactIf(device_id, last_outcome IN ('in_progress', 'pending', 'retrying')) AS active,
    sum(n) AS attempts,
    sum(n_failed) AS failed_attempts,
    if(succeeded + failed = 0, 0, round(failed / (succeeded + failed), 3)) AS failure_rate
FROM (
    SELECT tenant, device_id, scope, csp, target_id, product, version,
        argMax(outcome, (requested_at, first_seen, last_seen, attempt_id)) AS last_outcome,
        count() AS n,
        countIf(outcome = 'failed') AS n_failed
    FROM install_attempts
    WHERE last_seen >= now() - {since_hours:UInt32} * 3600
        AND ({tenant:String} = '' OR tenant = {tenant:String})
        AND outcome != 'unknown'
    GROUP BY tenant, device_id, scope, csp, target_id, product, version
)
GROUP BY tenant, csp, product, version, target_id
ORDER BY failed DESC, failure_rate DESC, devices DESC, tenant, csp, product, version, target_id;

-- name: top_causes
-- The causes of the attempts that failed in the window, by devices
-- affected: the attempts, the products hit and the three product versions
-- failing with it most (by attempts). The top 20.
SELECT
    tenant, cause_space AS code_space, cause_code AS code, code_hex, name, category,
    devices, attempts, products, top_products
FROM (
    SELECT tenant, cause_space, cause_code,
        uniqExact(device_id) AS devices,
        count() AS attempts,
        uniqExact(csp, target_id) AS products,
        topK(3)(concat(product, if(version = '', '', concat(' ', version)))) AS top_products
    FROM install_attempts
    WHERE outcome = 'failed'
        AND last_seen >= now() - {since_hours:UInt32} * 3600
        AND ({tenant:String} = '' OR tenant = {tenant:String})
    GROUP BY tenant, cause_space, cause_code
)
ANY LEFT JOIN install_causes USING (cause_space, cause_code)
ORDER BY devices DESC, attempts DESC, tenant, code_space, code
LIMIT 20;

-- name: failures_by_product_and_cause
-- The attempts that failed in the window per product, version and cause:
-- which version fails on how many devices, and why.
SELECT
    tenant, csp, product, version, target_id,
    cause_space AS code_space, cause_code AS code, code_hex, name, category,
    devices, attempts
FROM (
    SELECT tenant, csp, product, version, target_id, cause_space, cause_code,
        uniqExact(device_id) AS devices,
        count() AS attempts
    FROM install_attempts
    WHERE outcome = 'failed'
        AND last_seen >= now() - {since_hours:UInt32} * 3600
        AND ({tenant:String} = '' OR tenant = {tenant:String})
    GROUP BY tenant, csp, product, version, target_id, cause_space, cause_code
)
ANY LEFT JOIN install_causes USING (cause_space, cause_code)
ORDER BY devices DESC, attempts DESC, tenant, csp, product, version, target_id, code_space, code;

-- name: stuck_attempts
-- Attempts still in progress, pending (sent, no answer) or retrying more
-- than stuck_hours after they were requested, with their age in hours and
-- the cause of a retrying one's failures. Only a target's latest attempt
-- can be stuck: a new command ends the one before.
SELECT
    tenant, device_id, scope, csp, target_id, product, version, outcome,
    cause_space AS code_space, cause_code AS code, code_hex,
    retries, has_command, requested_at, last_seen,
    round((now() - requested_at) / 3600, 1) AS age_hours
FROM latest_install_attempts
ANY LEFT JOIN install_causes USING (cause_space, cause_code)
WHERE outcome IN ('in_progress', 'pending', 'retrying')
    AND requested_at <= now() - {stuck_hours:UInt32} * 3600
    AND ({tenant:String} = '' OR tenant = {tenant:String})
ORDER BY requested_at, tenant, device_id, scope, csp, target_id;

-- name: causes_new_in_last_hour
-- Causes of the attempts that failed in the last hour that no attempt of the
-- same tenant and CSP failed with in the baseline_days before: a new
-- failure mode, by devices.
SELECT
    tenant, csp, cause_space AS code_space, cause_code AS code, code_hex, name, category,
    devices, attempts, top_products, first_failed
FROM (
    SELECT tenant, csp, cause_space, cause_code,
        uniqExact(device_id) AS devices,
        count() AS attempts,
        topK(3)(concat(product, if(version = '', '', concat(' ', version)))) AS top_products,
        min(finished_at) AS first_failed
    FROM install_attempts
    WHERE outcome = 'failed'
        AND finished_at >= now() - 3600
        AND ({tenant:String} = '' OR tenant = {tenant:String})
        AND (tenant, csp, cause_space, cause_code) NOT IN (
            SELECT tenant, csp, cause_space, cause_code
            FROM install_attempts
            WHERE outcome = 'failed'
                AND finished_at < now() - 3600
                AND finished_at >= now() - 3600 - {baseline_days:UInt32} * 86400
            GROUP BY tenant, csp, cause_space, cause_code
        )
    GROUP BY tenant, csp, cause_space, cause_code
)
ANY LEFT JOIN install_causes USING (cause_space, cause_code)
ORDER BY devices DESC, attempts DESC, tenant, csp, code_space, code;

-- name: device_history
-- One device's install attempts of the last 30 days, newest first: what
-- was installed, when it was requested, how it ended and why, after how
-- many retries and events. duration_s is from the request to the final
-- outcome, 0 while there is none.
SELECT
    requested_at, tenant, scope, csp, target_id, product, version, outcome,
    cause_space AS code_space, cause_code AS code, code_hex,
    retries, events, has_command, first_seen, last_seen, finished_at,
    if(toUInt32(finished_at) = 0, 0, toInt64(toUInt32(finished_at)) - toInt64(toUInt32(requested_at))) AS duration_s,
    attempt_id
FROM install_attempts
ANY LEFT JOIN install_causes USING (cause_space, cause_code)
WHERE device_id = {device_id:String}
    AND ({tenant:String} = '' OR tenant = {tenant:String})
ORDER BY requested_at DESC, first_seen DESC, target_id
LIMIT 200;

-- name: devices_failing_product_now
-- Devices whose latest attempt of a product (by its name or target id)
-- failed, with the version and the cause: the devices to act on.
SELECT
    tenant, device_id, scope, csp, target_id, product, version,
    cause_space AS code_space, cause_code AS code, code_hex, name, category,
    retries, finished_at
FROM latest_install_attempts
ANY LEFT JOIN install_causes USING (cause_space, cause_code)
WHERE outcome = 'failed'
    AND (product = {product:String} OR target_id = {product:String})
    AND ({tenant:String} = '' OR tenant = {tenant:String})
ORDER BY finished_at DESC, tenant, device_id, scope, target_id;
