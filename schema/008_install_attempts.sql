-- install_attempts: one row per install attempt (DESIGN.md "Install
-- attempts") with an event in the last 30 days, computed when read from
-- install_events, server_commands and product_catalog: see store.AttemptsQuery
-- for its columns. Generated from store.AttemptsView by
-- go test ./internal/store -run TestAttemptsViewFile -update; do not edit.
CREATE VIEW IF NOT EXISTS install_attempts AS
SELECT * FROM (
SELECT tenant, device_id, scope, csp, target_id, attempt_id, has_command, requested_at,
	first_seen, last_seen, finished_at, duration_s, a_outcome AS outcome, cause_space, cause_code, retries, events,
	if(cat_known, cat_name, concat(target_id, ' (unknown product)')) AS product,
	multiIf(a_cmd_version != '', a_cmd_version, a_dev_version != '', a_dev_version, cat_version) AS version
FROM (SELECT tenant, device_id, scope, csp, target_id,
		lower(hex(sipHash64(tenant, device_id, scope, csp, target_id, start_ver))) AS attempt_id,
		toUInt8(attempt > 0) AS has_command,
		if(attempt > 0, cmd_at, first_seen) AS requested_at,
		first_seen, last_seen,
		arrayFilter((t, o) -> NOT (t.3 = 1 AND o > 0 AND t.1 > o), tl_all, arrayResize([ok_ver], length(tl_all), ok_ver)) AS tl,
		arrayFilter((f, o) -> NOT (f.5 = 1 AND o > 0 AND f.2 > o), fails_all, arrayResize([ok_ver], length(fails_all), ok_ver)) AS fails,
		arrayMap(t -> t.2, tl) AS timeline,
		if(empty(tl), '', tl[-1].2) AS last_outcome,
		arrayCount(o -> o = 'failed', timeline) AS failures,
		arrayReduce('max', arrayMap(t -> if(t.2 != 'failed', t.1, toUInt64(0)), tl)) AS last_ok_ver,
		arrayReduce('max', arrayMap(t -> if(t.2 IN ('succeeded', 'failed'), t.4, toDateTime(0)), tl)) AS finished_at,
		multiIf(last_outcome IN ('succeeded', 'failed'), last_outcome,
			last_outcome IN ('in_progress', 'pending', 'retrying') AND failures > 0, 'retrying',
			last_outcome != '', last_outcome,
			attempt > 0, 'pending', 'unknown') AS a_outcome,
		arrayReverseSort(arrayFilter((f, lo, o) -> (o = 'failed' AND f.2 >= lo) OR o = 'retrying', fails,
			arrayResize([last_ok_ver], length(fails), last_ok_ver), arrayResize([a_outcome], length(fails), a_outcome))) AS causes,
		if(empty(causes), '', causes[1].3) AS cause_space,
		if(empty(causes), toInt64(0), causes[1].4) AS cause_code,
		toUInt64(arrayCount((a, b) -> a IN ('failed', 'retrying') AND b NOT IN ('failed', 'retrying'),
			arrayPopBack(timeline), arrayPopFront(timeline))) AS retries,
		if(a_outcome IN ('succeeded', 'failed'), toUInt64(greatest(finished_at, requested_at) - requested_at), toUInt64(0)) AS duration_s,
		events, a_cmd_version, a_dev_version
	FROM (SELECT tenant, device_id, scope, csp, target_id, attempt,
		if(attempt = 0, toUInt64(0), any(starts)[attempt]) AS start_ver,
		minIf(received_at, is_start = 1) AS cmd_at,
		min(received_at) AS first_seen,
		max(received_at) AS last_seen,
		arraySort(groupArrayIf((ver, outcome, status_failed, received_at), informs = 1)) AS tl_all,
		minIf(ver, informs = 1 AND outcome = 'succeeded' AND status_failed = 0) AS ok_ver,
		groupArrayIf((rank, ver, ev_cs, ev_cc, status_failed), informs = 1 AND outcome = 'failed') AS fails_all,
		argMaxIf(cmd_version, ver, cmd_version != '') AS a_cmd_version,
		argMaxIf(ev_version, ver, ev_version != '') AS a_dev_version,
		uniqExact(event_id) AS events
	FROM (SELECT *, arrayCount((s, v) -> s <= v, starts, arrayResize([ver], length(starts), ver)) AS attempt, multiIf(ev_cs IN ('win32', 'hresult', 'office_status'), 3, ev_cs = 'omadm', 2, 1) AS rank
	FROM (SELECT tenant, device_id, scope, csp, target_id, event_id, kind, outcome, received_at,
		((if(session_id = '', toUInt64(toUnixTimestamp(received_at)) * 1000 + received_ms, s_ms) * 1024 + least(toUInt64(toUInt32OrZero(msg_id)) * 2 + toUInt64(kind = 'command'), 1023)) * 1024 + toUInt64(bitAnd(cmd_id, 1023))) AS ver,
		toUInt8(kind = 'command' AND command = 'Exec' AND node IN ('DownloadInstall', 'Install')) AS is_start,
		toUInt8((kind IN ('alert', 'result') AND outcome NOT IN ('unknown', 'requested') AND NOT (node = 'LastError' AND outcome = 'succeeded')) OR (kind = 'status' AND outcome IN ('failed', 'in_progress'))) AS informs,
		toUInt8(kind = 'status' AND outcome = 'failed') AS status_failed,
		if(win32_code != 0, 'win32', code_space) AS ev_cs, if(win32_code != 0, win32_code, code) AS ev_cc,
		if(kind = 'command', if(csp = 'Office', office_version, msi_job_product_version), '') AS cmd_version,
		product_version AS ev_version
	FROM (
SELECT event_id, tenant, device_id, session_id, msg_id, received_at, received_ms, kind, cmd_id, loc_uri, code, code_hex, win32_code, code_space, code_name, outcome, category, text, original_error, product_name, product_version, msg_ref, cmd_ref_raw, command, msi_job_product_version, office_version,
    if(att, a_scope, e_scope) AS scope, if(att, a_csp, e_csp) AS csp,
    if(att, a_target, e_target) AS target_id, if(att, a_node, e_node) AS node,
    att AS attributed
FROM (
    SELECT event_id, tenant, device_id, session_id, msg_id, received_at, received_ms, kind, cmd_id, loc_uri, code, code_hex, win32_code, code_space, code_name, outcome, category, text, original_error, product_name, product_version, msg_ref, cmd_ref_raw, command, msi_job_product_version, office_version, e_scope, e_csp, e_target, e_node, a_scope, a_csp, a_target, a_node,
        toUInt8(e_csp = '' AND a_csp != '') AS att
    FROM (
        SELECT event_id, tenant, device_id, session_id, msg_id, received_at, received_ms, kind, cmd_id, loc_uri, code, code_hex, win32_code, code_space, code_name, outcome, category, text, original_error, product_name, product_version, msg_ref, cmd_ref_raw, command, msi_job_product_version, office_version, scope AS e_scope, csp AS e_csp, target_id AS e_target, node AS e_node
        FROM install_events FINAL
        WHERE received_at >= now() - 5184000 AND received_at < now() + 60 AND (tenant, device_id) IN (
            SELECT tenant, device_id FROM install_events WHERE received_at >= now() - 2592000 AND received_at < now() + 60)
    )
    ANY LEFT JOIN (
        SELECT tenant, device_id, session_id, msg_id AS msg_ref, cmd_id_raw AS cmd_ref_raw,
            any(scope) AS a_scope, any(csp) AS a_csp, any(target_id) AS a_target, any(node) AS a_node
        FROM server_commands FINAL
        WHERE (tenant, device_id, session_id) IN (
            SELECT tenant, device_id, session_id FROM install_events
            WHERE received_at >= now() - 5184000 AND received_at < now() + 60 AND csp = '' AND cmd_ref_raw != '')
        GROUP BY tenant, device_id, session_id, msg_ref, cmd_ref_raw
        HAVING uniqExact(csp, target_id) = 1
    ) USING (tenant, device_id, session_id, msg_ref, cmd_ref_raw)
)
)
	ANY LEFT JOIN (
        SELECT tenant, device_id, session_id, min(toUInt64(toUnixTimestamp(received_at)) * 1000 + received_ms) AS s_ms
        FROM install_events
        WHERE received_at >= now() - 5184000 AND received_at < now() + 60 AND (tenant, device_id) IN (
            SELECT tenant, device_id FROM install_events WHERE received_at >= now() - 2592000 AND received_at < now() + 60)
        GROUP BY tenant, device_id, session_id
    ) USING (tenant, device_id, session_id)
	WHERE target_id != '')
	ANY LEFT JOIN (SELECT tenant, device_id, scope, csp, target_id, arraySort(groupUniqArray(v)) AS starts
	FROM (
		SELECT tenant, device_id, scope, csp, target_id, event_id, min(((if(session_id = '', toUInt64(toUnixTimestamp(received_at)) * 1000 + received_ms, s_ms) * 1024 + least(toUInt64(toUInt32OrZero(msg_id)) * 2 + toUInt64(kind = 'command'), 1023)) * 1024 + toUInt64(bitAnd(cmd_id, 1023)))) AS v
		FROM install_events
		ANY LEFT JOIN (
        SELECT tenant, device_id, session_id, min(toUInt64(toUnixTimestamp(received_at)) * 1000 + received_ms) AS s_ms
        FROM install_events
        WHERE received_at >= now() - 5184000 AND received_at < now() + 60 AND (tenant, device_id) IN (
            SELECT tenant, device_id FROM install_events WHERE received_at >= now() - 2592000 AND received_at < now() + 60)
        GROUP BY tenant, device_id, session_id
    ) USING (tenant, device_id, session_id)
		WHERE kind = 'command' AND command = 'Exec' AND node IN ('DownloadInstall', 'Install') AND received_at >= now() - 5184000 AND received_at < now() + 60 AND (tenant, device_id) IN (
            SELECT tenant, device_id FROM install_events WHERE received_at >= now() - 2592000 AND received_at < now() + 60)
		GROUP BY tenant, device_id, scope, csp, target_id, event_id
	)
	GROUP BY tenant, device_id, scope, csp, target_id) USING (tenant, device_id, scope, csp, target_id))
	GROUP BY tenant, device_id, scope, csp, target_id, attempt
	HAVING last_seen >= now() - 2592000))
ANY LEFT JOIN (
	SELECT tenant, csp, target_id,
		argMaxIf(name, priority, name != '') AS cat_name,
		argMaxIf(version, priority, version != '') AS cat_version,
		argMaxIf(publisher, priority, publisher != '') AS cat_publisher,
		argMaxIf(office_products, priority, office_products != '') AS cat_office_products,
		argMaxIf(office_channel, priority, office_channel != '') AS cat_office_channel,
		max(name != '') AS cat_known
	FROM product_catalog FINAL
	WHERE 1 = 1
	GROUP BY tenant, csp, target_id
) USING (tenant, csp, target_id)
);
