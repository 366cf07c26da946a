package store

import (
	"strconv"
	"strings"
	"time"
)

// An install attempt is one try of the MDM server to install one target on
// one device: the events of (tenant, device_id, scope, csp, target_id) from
// one install command up to the next. DESIGN.md "Install attempts" gives the
// rules; AttemptsQuery is their only implementation.
//
// Why a query and not a table kept by the aggregator: which attempt an event
// belongs to depends on every install command of its target, and a command
// and its answers arrive in any order, through any replica, redelivered or
// replayed days late. Computed when read, from the stored events, an attempt
// is the same whatever the order of arrival, a replay lands in the attempt
// its time says, and nothing can fall behind or be lost by a crash. The cost
// is one GROUP BY over the window's events (plus the lookback), which the
// report and the spike detector pay once per call.

// Attempt outcomes. An attempt's outcome is the last outcome its informative
// events reported (see DESIGN.md), except:
//   - AttemptRetrying: the attempt failed at least once and then went on
//     (the MSI client retries a download, Office retries a scenario);
//   - AttemptPending: the install command was sent and no event has yet said
//     how the install goes;
//   - AttemptUnknown: events name the target but none says how an install
//     went and no install command is known (inventory, a 200 to a Get).
const (
	AttemptSucceeded  = "succeeded"
	AttemptFailed     = "failed"
	AttemptInProgress = "in_progress"
	AttemptPending    = "pending"
	AttemptRetrying   = "retrying"
	AttemptUnknown    = "unknown"
)

// AttemptActive is the SQL condition of an attempt not yet finished.
const AttemptActive = "outcome IN ('in_progress', 'pending', 'retrying')"

// attemptStart is the SQL condition of an event that starts an attempt: the
// server's Exec of the MSI node's DownloadInstall
// (EnterpriseDesktopAppManagement/MSI/{ProductID}/DownloadInstall) or of the
// Office CSP's Installation/{id}/install. The Add that creates the MSI node
// before the Exec, the Gets of Status and the Deletes are not attempts.
const attemptStart = "kind = 'command' AND command = 'Exec' AND node IN ('DownloadInstall', 'Install')"

// attemptInforms is the SQL condition of an event that says how an install
// goes: an alert or a result with a known outcome, except a LastError of 0
// (it says "no error", not "installed"); a status that failed or says the
// install is in progress. A 200 to a command says the command ran, not
// that the install finished. It is install_state's condition (schema/003).
const attemptInforms = "(kind IN ('alert', 'result') AND outcome NOT IN ('unknown', 'requested') AND NOT (node = 'LastError' AND outcome = 'succeeded')) OR (kind = 'status' AND outcome IN ('failed', 'in_progress'))"

// eventVer orders the events of one device by the conversation that
// carried them, not by when each reached ingest: the OMA-DM session (by the
// first receipt of any of its messages, s_ms), then the message within it,
// the device's message k before the server's message k, which comes before
// the device's message k+1 that answers it (msg_seq), then the CmdID. So a
// device's answer never sorts before the command it answers, though the MDM
// server forwarded its own message after the device's (late copies, or both
// in one millisecond). It assumes a device does not reuse a SessionID within
// the lookback, as attribution does. An event with no SessionID (not from
// SyncML) is placed by its own receipt. Bits: s_ms (milliseconds, 41 bits) ×
// 2^20, msg_seq ≤ 1023 × 2^10, CmdID mod 1024.
const eventVer = "((if(session_id = '', toUInt64(toUnixTimestamp(received_at)) * 1000 + received_ms, s_ms) * 1024 + least(toUInt64(toUInt32OrZero(msg_id)) * 2 + toUInt64(kind = 'command'), 1023)) * 1024 + toUInt64(bitAnd(cmd_id, 1023)))"

// sessionStarts is the first receipt (milliseconds since the epoch, s_ms) of
// each OMA-DM session of the window's active devices: the order key of its
// events (eventVer). Arguments: the lookback's start, to; from, to.
const sessionStarts = `ANY LEFT JOIN (
        SELECT tenant, device_id, session_id, min(toUInt64(toUnixTimestamp(received_at)) * 1000 + received_ms) AS s_ms
        FROM install_events
        WHERE received_at >= ? AND received_at < ?` + activeDevices + `
        GROUP BY tenant, device_id, session_id
    ) USING (tenant, device_id, session_id)`

// causeRank orders the codes a failed attempt carried by how much they say:
// the installer's own code (a Win32 or HRESULT from the install alert or
// LastError, an Office CSP Status) over an OMA-DM status (the command
// failed) over a state machine's value (MSI Status 60 "enforcement failed",
// Office FinalStatus 60), which says that it failed but not why.
const causeRank = "multiIf(ev_cs IN ('win32', 'hresult', 'office_status'), 3, ev_cs = 'omadm', 2, 1)"

// activeDevices restricts the lookback's events to the devices with an
// event in the window [from, to) (its two arguments): an attempt with an
// event in the window is one of theirs, so the events of every other device
// need not be read, joined or grouped. For a spike detector's bucket of a
// minute this skips nearly the whole lookback.
const activeDevices = ` AND (tenant, device_id) IN (
            SELECT tenant, device_id FROM install_events WHERE received_at >= ? AND received_at < ?)`

// AttemptsQuery is a subquery of the install attempts whose events reach into
// a window: one row per attempt with an event received in [from, to), built
// from the events received in [from - lookback, to) with device answers
// attributed to their commands (AttributedEvents). An attempt that began
// before from - lookback is read without its command (attempt 0 below).
//
// Shape:
//
//	tenant, device_id, scope, csp, target_id  String: the attempt's target
//	attempt_id    String: hex of a hash of the target and its start; stable
//	              across windows that hold the start
//	has_command   UInt8: 1 when an install command started the attempt, 0
//	              for the events of a target before any known command
//	requested_at  DateTime: the install command's receipt; first_seen when
//	              there is no command
//	first_seen, last_seen DateTime: the attempt's first and last event
//	finished_at   DateTime: the last succeeded or failed report, or 0
//	duration_s    UInt64: seconds from requested_at to finished_at of a
//	              succeeded or failed attempt, 0 for the others
//	outcome       String: one of the Attempt* constants
//	cause_space, cause_code  String, Int64: the attempt's cause, folded as
//	              CauseSpace and CauseCode fold it; empty and 0 unless the
//	              attempt failed or is retrying
//	retries       UInt64: how many times the attempt failed and went on
//	events        UInt64: distinct events in the attempt, the command included
//	product       String: the catalog's name of the target (ProductLabelSQL)
//	version       String: the version being installed: the install command's
//	              (MsiInstallJob ProductVersion, Office Version), else the
//	              last one a device reported for the target in the attempt,
//	              else the catalog's
//
// Arguments: AttemptArgs(from, to, lookback).
var AttemptsQuery = attemptsQuery()

// AttemptArgs returns the arguments of AttemptsQuery for the window
// [from, to) read with lookback.
func AttemptArgs(from, to time.Time, lookback time.Duration) []any {
	return attemptArgs(from.UTC(), to.UTC(), from.Add(-lookback).UTC())
}

// attemptArgs orders the window's bounds as AttemptsQuery's placeholders
// take them.
func attemptArgs[T any](from, to, start T) []any {
	return []any{start, to, from, to, start, to, // AttributedEvents, active devices only
		start, to, from, to, // the events' sessions
		start, to, from, to, // the install commands
		start, to, from, to, // their sessions
		from} // HAVING
}

// AttemptsSQL is AttemptsQuery with its window written in as SQL
// expressions (from, to and the lookback's start), for SQL printed for an
// administrator or kept as a view.
func AttemptsSQL(from, to, start string) string {
	q := AttemptsQuery
	for _, v := range attemptArgs(from, to, start) {
		q = strings.Replace(q, "?", v.(string), 1)
	}
	return q
}

func attemptsQuery() string {
	// 18.16 does not count a column a lambda captures as needed, and drops
	// it from the subquery that would give it ("Unknown identifier"): every
	// lambda below takes what it compares as an array argument instead.

	// Level 1: each event of a target with its place among the target's
	// install commands (starts, sorted): attempt n is the events from the
	// n-th command up to the next; attempt 0 the events before the first.
	events := `SELECT tenant, device_id, scope, csp, target_id, event_id, kind, outcome, received_at,
		` + eventVer + ` AS ver,
		toUInt8(` + attemptStart + `) AS is_start,
		toUInt8(` + attemptInforms + `) AS informs,
		toUInt8(kind = 'status' AND outcome = 'failed') AS status_failed,
		` + CauseSpace + ` AS ev_cs, ` + CauseCode + ` AS ev_cc,
		if(kind = 'command', if(csp = 'Office', office_version, msi_job_product_version), '') AS cmd_version,
		product_version AS ev_version
	FROM ` + attributedEvents(activeDevices) + `
	` + sessionStarts + `
	WHERE target_id != ''`
	// A command posted twice (a webhook retried after NATS's duplicate
	// window) is one event with two receipts: the first one counts.
	starts := `SELECT tenant, device_id, scope, csp, target_id, arraySort(groupUniqArray(v)) AS starts
	FROM (
		SELECT tenant, device_id, scope, csp, target_id, event_id, min(` + eventVer + `) AS v
		FROM install_events
		` + sessionStarts + `
		WHERE ` + attemptStart + ` AND received_at >= ? AND received_at < ?` + activeDevices + `
		GROUP BY tenant, device_id, scope, csp, target_id, event_id
	)
	GROUP BY tenant, device_id, scope, csp, target_id`
	placed := `SELECT *, arrayCount((s, v) -> s <= v, starts, arrayResize([ver], length(starts), ver)) AS attempt, ` + causeRank + ` AS rank
	FROM (` + events + `)
	ANY LEFT JOIN (` + starts + `) USING (tenant, device_id, scope, csp, target_id)`

	// Level 2: the attempt's facts. The informative events as a timeline
	// of (ver, outcome, status_failed, received_at), sorted, and ok_ver, the
	// first success an alert or result reported.
	grouped := `SELECT tenant, device_id, scope, csp, target_id, attempt,
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
	FROM (` + placed + `)
	GROUP BY tenant, device_id, scope, csp, target_id, attempt
	HAVING last_seen >= ?`

	// Level 3: outcome, cause and retries from the facts. Once the installer
	// reported success, a failed OMA-DM status says a later Get or Delete
	// found the node gone (an uninstall, a clean-up), not that the install
	// failed: such statuses are dropped from the timeline (tl) and the
	// failures. A failed attempt's cause is the most telling code
	// (causeRank, then the latest) of its last run of failures; a retrying
	// attempt's, of all its failures. A failure that shares its ver with a
	// success (one message, one CmdID) is in the last run, so that a failed
	// attempt always has a cause.
	judged := `SELECT tenant, device_id, scope, csp, target_id,
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
	FROM (` + grouped + `)`

	// Level 4: names and versions from the catalog.
	return `(
SELECT tenant, device_id, scope, csp, target_id, attempt_id, has_command, requested_at,
	first_seen, last_seen, finished_at, duration_s, a_outcome AS outcome, cause_space, cause_code, retries, events,
	` + ProductLabelSQL + ` AS product,
	multiIf(a_cmd_version != '', a_cmd_version, a_dev_version != '', a_dev_version, cat_version) AS version
FROM (` + judged + `)
` + catalogJoin("") + `
)`
}

// AttemptsViewDays is how far back the install_attempts view of
// schema/008 reads: its attempts are those with an event in the last
// AttemptsViewDays days, read with AttemptsViewDays more of lookback.
const AttemptsViewDays = 30

// AttemptsView is the statement of schema/008_install_attempts.sql: the
// view install_attempts, AttemptsQuery over a window that ends now, for
// administrators' SQL (schema/queries.sql). A view cannot take arguments on
// 18.16, so every read of it computes the attempts of the whole window; a
// test keeps the file equal to this.
func AttemptsView() string {
	days := func(n int) string { return "now() - " + strconv.Itoa(n*86400) }
	return "CREATE VIEW IF NOT EXISTS install_attempts AS\nSELECT * FROM " +
		AttemptsSQL(days(AttemptsViewDays), "now() + 60", days(2*AttemptsViewDays)) + ";\n"
}
