package store

import "strings"

// AttributedEvents is a subquery over install_events (read with FINAL) in
// which a device answer that names no CSP node carries the csp, target_id,
// node and scope of the server command it answers. A Status has no LocURI
// unless the device sent a TargetRef, and real devices answer a Get of
// .../MSI/{id}/Status with 404 and none; the answer's (session, MsgRef,
// CmdRef) is the server command's (session, MsgID, CmdID), which
// server_commands holds (schema/006). Events that name their node keep it.
//
// The join runs when the query does, so an answer stored before its command
// is attributed as soon as the command is stored: no arrival order, batch or
// restart matters. Its cost is bounded by the window: the commands read are
// those of the sessions that have an unattributed answer in it.
//
// Shape: the columns of attributedPass, scope, csp, target_id, node, plus attributed (UInt8, 1 when
// the target came from the command). Arguments: the window's from and to
// (DateTime), twice: AttributedArgs(from, to). It is a variable only
// because it is built from one column list; never assign it.
var AttributedEvents = attributedEvents("")

// attributedPass are the columns AttributedEvents passes through as stored.
var attributedPass = []string{"event_id", "tenant", "device_id", "session_id", "msg_id", "received_at", "received_ms",
	"kind", "cmd_id", "loc_uri", "code", "code_hex", "win32_code", "code_space", "code_name", "outcome", "category",
	"text", "original_error", "product_name", "product_version", "msg_ref", "cmd_ref_raw",
	"command", "msi_job_product_version", "office_version"}

// attributedEvents builds AttributedEvents. The stored csp, target_id, node
// and scope are renamed in an inner query because 18.16 resolves an alias
// before a column of the same name: in one SELECT, "if(csp = ”, ...) AS
// csp" would make every later mention of csp mean the alias.
//
// extra is a condition (" AND ...") added to the read of install_events,
// whose arguments follow the window's first two.
func attributedEvents(extra string) string {
	pass := strings.Join(attributedPass, ", ")
	return `(
SELECT ` + pass + `,
    if(att, a_scope, e_scope) AS scope, if(att, a_csp, e_csp) AS csp,
    if(att, a_target, e_target) AS target_id, if(att, a_node, e_node) AS node,
    att AS attributed
FROM (
    SELECT ` + pass + `, e_scope, e_csp, e_target, e_node, a_scope, a_csp, a_target, a_node,
        toUInt8(e_csp = '' AND a_csp != '') AS att
    FROM (
        SELECT ` + pass + `, scope AS e_scope, csp AS e_csp, target_id AS e_target, node AS e_node
        FROM install_events FINAL
        WHERE received_at >= ? AND received_at < ?` + extra + `
    )
    ANY LEFT JOIN (
        SELECT tenant, device_id, session_id, msg_id AS msg_ref, cmd_id_raw AS cmd_ref_raw,
            any(scope) AS a_scope, any(csp) AS a_csp, any(target_id) AS a_target, any(node) AS a_node
        FROM server_commands FINAL
        WHERE (tenant, device_id, session_id) IN (
            SELECT tenant, device_id, session_id FROM install_events
            WHERE received_at >= ? AND received_at < ? AND csp = '' AND cmd_ref_raw != '')
        GROUP BY tenant, device_id, session_id, msg_ref, cmd_ref_raw
        HAVING uniqExact(csp, target_id) = 1
    ) USING (tenant, device_id, session_id, msg_ref, cmd_ref_raw)
)
)`
}

// AttributedArgs returns the arguments of AttributedEvents for the window
// [from, to), in the form the query binds: ClickHouse DateTimes of whole
// seconds (to is exclusive).
func AttributedArgs(from, to any) []any { return []any{from, to, from, to} }

// AttributedSQL is AttributedEvents with its window written in as SQL
// expressions (such as toDateTime('2026-11-23 05:00:00', 'UTC') or
// now()), for SQL printed for an administrator to run rather than bound.
func AttributedSQL(from, to string) string {
	q := AttributedEvents
	for _, v := range AttributedArgs(from, to) {
		q = strings.Replace(q, "?", v.(string), 1)
	}
	return q
}
