package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// This file holds the SQL that internal/alerts runs: the failed-attempt
// counts its detector reads each bucket, and the alerts table its
// ClickHouse sink writes and `aggregator alerts` reads. internal/alerts
// turns these rows into its own types; the store knows nothing of alerts
// beyond the table's columns.

// AttemptCountKind says which attempts an AttemptCount counts.
type AttemptCountKind uint8

// The kinds, as the counts query numbers them.
const (
	// CountSucceeded: attempts that finished in the bucket and succeeded.
	CountSucceeded AttemptCountKind = 0
	// CountFailed: attempts that finished in the bucket and failed.
	CountFailed AttemptCountKind = 1
	// CountRequested: attempts whose install command was sent in the
	// bucket, whatever their outcome.
	CountRequested AttemptCountKind = 2
)

// AttemptCount is one group of AttemptCounts: the attempts of one kind,
// bucket and key.
type AttemptCount struct {
	// Bucket is the start of the bucket, aligned to the Unix epoch.
	Bucket time.Time
	Kind   AttemptCountKind
	// The key: tenant and cause, and CSP, target and version when grouped
	// by product. Requested attempts are grouped by the cause they ended
	// with too (empty while they have none).
	Tenant, CSP, Target, Version string
	CauseSpace                   string
	CauseCode                    int64
	// Attempts are the distinct attempts, Devices their distinct devices.
	Attempts, Devices uint64
	// Samples are the first three devices, sorted (failed attempts only).
	Samples []string
	// Product is the attempts' product column (the catalog's name, else
	// UnknownLabel of the target).
	Product string
}

// AttemptCountsOptions select the groups of AttemptCounts.
type AttemptCountsOptions struct {
	// ByProduct groups by tenant, CSP, target, version and cause; otherwise
	// by tenant and cause only.
	ByProduct bool
	// From and To bound the buckets read, [From, To).
	From, To time.Time
	// Bucket is the bucket length, whole seconds.
	Bucket time.Duration
	// Lookback is how far before From events are read to rebuild the
	// attempts that end in the range (AttemptArgs).
	Lookback time.Duration
}

// attemptCountsQuery groups the attempts that finished in [from, to) by
// bucket, key and whether they failed, and those requested (install command
// sent) in [from, to) by bucket and key (CountRequested): each attempt is
// read once, as two rows (arrayJoin). {key} stands for the key columns. The
// parameters are the bucket length in seconds (four times), AttemptArgs,
// then from and to twice.
var attemptCountsQuery = `SELECT bk.1 AS b, multiIf(bk.2 = 2, 2, outcome = 'failed', 1, 0) AS kind, {key},
	uniqExact(attempt_id) AS attempts, uniqExact(device_id) AS devices,
	if(kind = 1, arraySlice(arraySort(groupUniqArray(device_id)), 1, 3), emptyArrayString()) AS samples,
	any(product) AS pn
FROM (SELECT *, arrayJoin([(toUInt32(intDiv(toUInt32(finished_at), ?) * ?), toUInt8(1)),
		(toUInt32(intDiv(toUInt32(requested_at), ?) * ?), toUInt8(2))]) AS bk
	FROM ` + AttemptsQuery + `)
WHERE (bk.2 = 1 AND outcome IN ('succeeded', 'failed') AND finished_at >= toDateTime(?) AND finished_at < toDateTime(?))
	OR (bk.2 = 2 AND has_command = 1 AND requested_at >= toDateTime(?) AND requested_at < toDateTime(?))
GROUP BY b, kind, {key}
ORDER BY b`

// AttemptCounts counts install attempts (AttemptsQuery, the rule of
// DESIGN.md "Install attempts") per bucket, key and kind, in bucket order.
// An attempt counts in the bucket holding its finished_at when its outcome,
// as of To, is succeeded or failed, and in the bucket holding its
// requested_at as requested. The counts depend only on the events stored,
// never on their order of arrival. Cost: one GROUP BY over the events of
// [From - Lookback, To).
func (s *Store) AttemptCounts(ctx context.Context, o AttemptCountsOptions) ([]AttemptCount, error) {
	secs := int64(o.Bucket / time.Second)
	if secs <= 0 || o.Bucket%time.Second != 0 {
		return nil, fmt.Errorf("attempt counts: bucket %v is not whole seconds", o.Bucket)
	}
	key := "tenant, cause_space, cause_code"
	if o.ByProduct {
		key = "tenant, csp, target_id, version, cause_space, cause_code"
	}
	from, to := o.From.UTC(), o.To.UTC()
	q := strings.ReplaceAll(attemptCountsQuery, "{key}", key)
	args := append(append([]any{secs, secs, secs, secs}, AttemptArgs(from, to, o.Lookback)...), from.Unix(), to.Unix(), from.Unix(), to.Unix())
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("attempt counts: %w", err)
	}
	defer rows.Close()
	var out []AttemptCount
	for rows.Next() {
		var (
			c    AttemptCount
			b    uint32
			kind uint8
		)
		dst := []any{&b, &kind, &c.Tenant}
		if o.ByProduct {
			dst = append(dst, &c.CSP, &c.Target, &c.Version)
		}
		dst = append(dst, &c.CauseSpace, &c.CauseCode, &c.Attempts, &c.Devices, &c.Samples, &c.Product)
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("attempt counts: %w", err)
		}
		c.Bucket, c.Kind = time.Unix(int64(b), 0).UTC(), AttemptCountKind(kind)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("attempt counts: %w", err)
	}
	return out, nil
}

// AlertRow is one row of the alerts table (schema/100_alerts.sql,
// 101_alert_attempts.sql): one transition of one spike alert.
type AlertRow struct {
	AlertID, Status, Level string
	// At is the transition's time: the first seen bucket when firing, the
	// resolve time when resolved.
	At                                                 time.Time
	Tenant, CSP, TargetID, ProductName, ProductVersion string
	CodeSpace                                          string
	Code                                               int64
	CodeHex, CodeName, CodeDescription, Category       string
	Failures, Devices, Peak                            uint64
	Baseline, Factor                                   float64
	SampleDevices                                      []string
	FirstSeen                                          time.Time
	// ResolvedAt is the Unix epoch while firing.
	ResolvedAt                                   time.Time
	BucketSeconds                                uint32
	Summary, Query, Severity, Advice, CodeSource string
	Attempts, Finished                           uint64
	FailedShare, DeviceBaseline                  float64
}

// alertColumns are AlertRow's columns, in field order.
const alertColumns = `alert_id, status, level, at, tenant, csp, target_id, product_name, product_version,
	code_space, code, code_hex, code_name, code_description, category,
	failures, devices, peak, baseline, factor, sample_devices,
	first_seen, resolved_at, bucket_seconds, summary, query,
	severity, advice, code_source, attempts, finished, failed_share, device_baseline`

// fields are r's fields in alertColumns order, as pointers for Scan.
func (r *AlertRow) fields() []any {
	return []any{&r.AlertID, &r.Status, &r.Level, &r.At, &r.Tenant, &r.CSP, &r.TargetID, &r.ProductName, &r.ProductVersion,
		&r.CodeSpace, &r.Code, &r.CodeHex, &r.CodeName, &r.CodeDescription, &r.Category,
		&r.Failures, &r.Devices, &r.Peak, &r.Baseline, &r.Factor, &r.SampleDevices,
		&r.FirstSeen, &r.ResolvedAt, &r.BucketSeconds, &r.Summary, &r.Query,
		&r.Severity, &r.Advice, &r.CodeSource, &r.Attempts, &r.Finished, &r.FailedShare, &r.DeviceBaseline}
}

// alertsTable is table, or "alerts" when empty.
func alertsTable(table string) string {
	if table == "" {
		return "alerts"
	}
	return table
}

// InsertAlert writes r as one row of table ("alerts" when empty) in one
// INSERT. The table replaces rows by (tenant, alert_id, status) on merge,
// so writing a transition twice leaves one row.
func (s *Store) InsertAlert(ctx context.Context, table string, r AlertRow) error {
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+alertsTable(table)+" ("+alertColumns+")")
	if err != nil {
		return fmt.Errorf("alerts table insert: %w", err)
	}
	f := r.fields()
	vals := make([]any, len(f))
	for i, p := range f {
		vals[i] = reflect.ValueOf(p).Elem().Interface()
	}
	if err := batch.Append(vals...); err != nil {
		_ = batch.Abort()
		return fmt.Errorf("alerts table insert: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("alerts table insert: %w", err)
	}
	return nil
}

// AlertRowsOptions select rows of the alerts table.
type AlertRowsOptions struct {
	// Since keeps the rows at or after it.
	Since time.Time
	// IncludeOpen also keeps, whatever Since, every row of the alerts with
	// no resolved row.
	IncludeOpen bool
	// Tenant keeps one tenant's rows; all when empty.
	Tenant string
	// Table is the alerts table; "alerts" when empty.
	Table string
	// Limit bounds the rows read; 0 means 10000.
	Limit int
}

// AlertRows reads the alerts table with FINAL, so that a transition written
// twice is one row, ordered by first_seen, alert_id and status (firing
// before resolved). It reads the rows since o.Since and, with
// o.IncludeOpen, a subquery over two short columns of the whole table (a
// handful of rows per spike).
func (s *Store) AlertRows(ctx context.Context, o AlertRowsOptions) ([]AlertRow, error) {
	table := alertsTable(o.Table)
	limit := o.Limit
	if limit <= 0 {
		limit = 10000
	}
	tenant := ""
	if o.Tenant != "" {
		tenant = " AND tenant = ?"
	}
	q := "SELECT " + alertColumns + " FROM " + table + " FINAL WHERE (at >= toDateTime(?)"
	args := []any{o.Since.Unix()}
	if o.IncludeOpen {
		q += " OR alert_id IN (SELECT alert_id FROM " + table + " FINAL WHERE 1 = 1" + tenant +
			" GROUP BY alert_id HAVING countIf(status = 'resolved') = 0)"
		if o.Tenant != "" {
			args = append(args, o.Tenant)
		}
	}
	q += ")" + tenant
	if o.Tenant != "" {
		args = append(args, o.Tenant)
	}
	q += fmt.Sprintf(" ORDER BY first_seen, alert_id, status LIMIT %d", limit)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("alerts list: %w", err)
	}
	defer rows.Close()
	var out []AlertRow
	for rows.Next() {
		var r AlertRow
		if err := rows.Scan(r.fields()...); err != nil {
			return nil, fmt.Errorf("alerts list: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alerts list: %w", err)
	}
	return out, nil
}
