-- The two views every administrator's analysis (schema/queries.sql) and
-- Grafana panel (deploy/grafana) builds on besides install_attempts, so
-- that each writes the HRESULT form of a code and "a target's latest
-- attempt" once. Views, not functions: 18.16 has no user-defined functions.
-- Reading one costs what its SELECT costs, every time.

-- install_causes: the causes of failed and retrying install attempts
-- (install_attempts' cause_space and cause_code: a Win32 code in a LastError
-- HRESULT folded to win32, as the attempts fold it), one row each, with an
-- event in the last 60 days (the events install_attempts reads):
--   code_hex  the cause's HRESULT form: the code itself when it is an
--             HRESULT (negative, 32 bits), 0x8007xxxx for a Win32 code
--             (HRESULT_FROM_WIN32), '' otherwise; codes.AppendHex's form
--   label     how a chart names the cause: "win32 1603 (0x80070643)",
--             "hresult 0x86000020", "office_status 17002"
--   name, category  ingest's name and category of the code (normalize)
-- Join it with ANY LEFT JOIN install_causes USING (cause_space, cause_code):
-- an attempt without a cause ('', 0) finds no row and reads code_hex ''.
CREATE VIEW IF NOT EXISTS install_causes AS
SELECT cause_space, cause_code,
    multiIf(cause_code < 0 AND cause_code >= -2147483648, concat('0x', lower(hex(toUInt32(bitAnd(cause_code, 4294967295))))),
        cause_space = 'win32' AND cause_code > 0 AND cause_code <= 65535, concat('0x', lower(hex(toUInt32(bitOr(2147942400, cause_code))))),
        '') AS code_hex,
    multiIf(code_hex = '', concat(cause_space, ' ', toString(cause_code)),
        cause_code < 0, concat(cause_space, ' ', code_hex),
        concat(cause_space, ' ', toString(cause_code), ' (', code_hex, ')')) AS label,
    name, cause_category AS category
FROM (
    SELECT if(win32_code != 0, 'win32', code_space) AS cause_space,
        if(win32_code != 0, win32_code, code) AS cause_code,
        argMax(code_name, code_space = cause_space) AS name,
        argMax(category, code_space = cause_space) AS cause_category
    FROM install_events
    WHERE received_at >= now() - 5184000 AND outcome IN ('failed', 'retrying')
    GROUP BY cause_space, cause_code
);

-- latest_install_attempts: each target's latest attempt on each device
-- (tenant, device_id, scope, csp, target_id) of install_attempts, with its
-- columns: where a device stands with a target now. A new install command
-- ends the attempt before it, so only a latest attempt can still be in
-- progress, pending or retrying. A WHERE on the view applies to the latest
-- attempts: "stuck" is a latest attempt that is active, not the latest of
-- the active attempts.
CREATE VIEW IF NOT EXISTS latest_install_attempts AS
SELECT *
FROM install_attempts
ORDER BY requested_at DESC, first_seen DESC, last_seen DESC, attempt_id DESC
LIMIT 1 BY tenant, device_id, scope, csp, target_id;
