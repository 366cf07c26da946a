package store

import (
	"context"
	"fmt"
	"time"
)

// The read methods of this file serve the dashboard and the HTML report
// (internal/dashboard). Each is one SELECT over AttemptsQuery's rows, as
// the report counts them (reportAttempts: rows that name a CSP and say
// something of an install), narrowed by an AttemptFilter. None writes.

// Window is a window of install attempts: those with an event received in
// [From, To), read with Lookback of earlier events (AttemptsQuery).
type Window struct {
	From, To time.Time
	// Lookback is DefaultReportLookback when zero.
	Lookback time.Duration
}

// ReportWindow is the window rep was made over, so that a figure read
// with it counts the same attempts as rep.
func ReportWindow(rep Report) Window {
	return Window{From: rep.From, To: rep.To, Lookback: rep.Lookback}
}

func (w Window) args() ([]any, error) {
	if !w.From.Before(w.To) {
		return nil, fmt.Errorf("window %s to %s: empty", w.From.Format(time.RFC3339), w.To.Format(time.RFC3339))
	}
	lb := w.Lookback
	if lb <= 0 {
		lb = DefaultReportLookback
	}
	return AttemptArgs(w.From, w.To, lb), nil
}

// AttemptFilter narrows the attempts of a Window; an empty field matches
// every value.
type AttemptFilter struct {
	Tenant, CSP string
	// Product is the product's name as AttemptsQuery has it (the catalog's,
	// else the target id marked " (unknown product)"); Version the version
	// being installed.
	Product, Version string
	// DeviceID is only meaningful with Tenant.
	DeviceID string
	// AnyVersion, when true, ignores Version (so that "" can select the
	// attempts of no known version when it is false and Product is set).
	AnyVersion bool
}

// sql is f as " AND ..." conditions on AttemptsQuery's columns, with its
// arguments appended to args.
func (f AttemptFilter) sql(args []any) (string, []any) {
	var q string
	add := func(col, v string) {
		q += " AND " + col + " = ?"
		args = append(args, v)
	}
	if f.Tenant != "" {
		add("tenant", f.Tenant)
	}
	if f.CSP != "" {
		add("csp", f.CSP)
	}
	if f.Product != "" {
		add("product", f.Product)
		if !f.AnyVersion {
			add("version", f.Version)
		}
	}
	if f.DeviceID != "" {
		add("device_id", f.DeviceID)
	}
	return q, args
}

// attempts is the SQL and arguments of the report's attempts of w narrowed
// by f.
func (f AttemptFilter) attempts(w Window) (string, []any, error) {
	args, err := w.args()
	if err != nil {
		return "", nil, err
	}
	cond, args := f.sql(args)
	return reportAttempts(cond), args, nil
}

// OutcomeBucket is the attempts that finished in one bucket of time.
type OutcomeBucket struct {
	// Start is the bucket's start; the bucket is [Start, Start+bucket).
	Start time.Time
	// Succeeded and Failed are the attempts whose finished_at (their last
	// succeeded or failed report) is in the bucket, by final outcome.
	Succeeded, Failed uint64
}

// SuccessRate is Succeeded / (Succeeded + Failed), or -1 when none
// finished.
func (b OutcomeBucket) SuccessRate() float64 {
	if b.Succeeded+b.Failed == 0 {
		return -1
	}
	return float64(b.Succeeded) / float64(b.Succeeded+b.Failed)
}

// bucketExpr is finished_at floored to a multiple of the bucket's seconds
// since the epoch (its one argument), so buckets of an hour start on UTC
// hours. toStartOfInterval is not in ClickHouse 18.16.
const bucketExpr = "toDateTime(intDiv(toUInt32(finished_at), ?) * ?)"

// bucketSeconds checks and converts a bucket size.
func bucketSeconds(bucket time.Duration) (uint32, error) {
	if bucket < time.Second || bucket%time.Second != 0 || bucket > 366*24*time.Hour {
		return 0, fmt.Errorf("bucket %v: want whole seconds, at least 1s and at most a year", bucket)
	}
	return uint32(bucket / time.Second), nil
}

// OutcomesOverTime counts the window's succeeded and failed attempts by
// the bucket of their finished_at: one OutcomeBucket per bucket from the
// one holding w.From to the one holding the instant before w.To, oldest
// first, empty buckets included (a chart's x axis needs them).
//
// Guarantees: an attempt is counted once, in the bucket of its last
// succeeded or failed report, and only when that report is in [w.From,
// w.To); so the buckets' Failed sum to the report's failed attempts of the
// window except for an attempt that finished before the window and had a
// later event in it (a rare inventory after an install). Attempts still
// active are not counted.
//
// Cost: one query computing AttemptsQuery over the window and lookback,
// grouped in ClickHouse; at most one row per bucket comes back.
func (s *Store) OutcomesOverTime(ctx context.Context, w Window, f AttemptFilter, bucket time.Duration) ([]OutcomeBucket, error) {
	sec, err := bucketSeconds(bucket)
	if err != nil {
		return nil, err
	}
	attempts, args, err := f.attempts(w)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + bucketExpr + ` AS b, countIf(outcome = 'succeeded') AS ok, countIf(outcome = 'failed') AS bad
	FROM (` + attempts + `)
	WHERE outcome IN ('succeeded', 'failed') AND finished_at >= ? AND finished_at < ?
	GROUP BY b ORDER BY b`
	args = append([]any{sec, sec}, append(args, w.From.UTC(), w.To.UTC())...)
	got := map[int64]OutcomeBucket{}
	err = s.each(ctx, "outcomes over time", q, args, func(sc scanner) error {
		var b OutcomeBucket
		if err := sc.Scan(&b.Start, &b.Succeeded, &b.Failed); err != nil {
			return err
		}
		got[b.Start.Unix()] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := []OutcomeBucket{}
	for t := floorTo(w.From, bucket); t.Before(w.To); t = t.Add(bucket) {
		b := got[t.Unix()]
		b.Start = t
		out = append(out, b)
	}
	return out, nil
}

// floorTo is t floored to a multiple of d since the Unix epoch, in UTC, as
// bucketExpr floors.
func floorTo(t time.Time, d time.Duration) time.Time {
	sec := int64(d / time.Second)
	u := t.Unix()
	return time.Unix(u-((u%sec)+sec)%sec, 0).UTC()
}

// CauseBucket is the failed attempts of one cause in one bucket of time.
type CauseBucket struct {
	Start time.Time
	// Space and Code are the cause, as Cause has it.
	Space  string
	Code   int64
	Failed uint64
}

// FailuresByCause counts the window's failed attempts by the bucket of
// their finished_at (as OutcomesOverTime) and their cause, oldest bucket
// first and, within a bucket, most failures first. Only non-empty buckets
// come back; at most limit rows (10000 when limit <= 0).
//
// Cost: one query computing AttemptsQuery over the window and lookback.
func (s *Store) FailuresByCause(ctx context.Context, w Window, f AttemptFilter, bucket time.Duration, limit int) ([]CauseBucket, error) {
	sec, err := bucketSeconds(bucket)
	if err != nil {
		return nil, err
	}
	attempts, args, err := f.attempts(w)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 10000
	}
	q := `SELECT ` + bucketExpr + ` AS b, cause_space, cause_code, count() AS n
	FROM (` + attempts + `)
	WHERE outcome = 'failed' AND finished_at >= ? AND finished_at < ?
	GROUP BY b, cause_space, cause_code ORDER BY b, n DESC, cause_space, cause_code
	LIMIT ?`
	args = append([]any{sec, sec}, append(args, w.From.UTC(), w.To.UTC(), limit)...)
	out := []CauseBucket{}
	err = s.each(ctx, "failures by cause", q, args, func(sc scanner) error {
		var b CauseBucket
		if err := sc.Scan(&b.Start, &b.Space, &b.Code, &b.Failed); err != nil {
			return err
		}
		b.Start = b.Start.UTC()
		out = append(out, b)
		return nil
	})
	return out, err
}

// ProductVersions is FleetReport's products of w narrowed by f (a
// product's versions, with f.Product and f.AnyVersion), counted as the
// report counts them: the same rows, in the same order, as the report's
// Products for the same window and tenant.
//
// Cost: one query computing AttemptsQuery over the window and lookback.
func (s *Store) ProductVersions(ctx context.Context, w Window, f AttemptFilter) ([]ProductInstalls, error) {
	attempts, args, err := f.attempts(w)
	if err != nil {
		return nil, err
	}
	out := []ProductInstalls{}
	err = s.each(ctx, "product versions", withAttempts(productsQuery, attempts), args, func(sc scanner) error {
		var p ProductInstalls
		if err := sc.Scan(&p.Tenant, &p.CSP, &p.Product, &p.Version, &p.TargetID, &p.Devices, &p.Succeeded,
			&p.Failed, &p.Active, &p.Attempts, &p.FailedAttempts); err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// Attempt is one row of AttemptsQuery (see its shape for each field).
type Attempt struct {
	Tenant, DeviceID, Scope, CSP, TargetID string
	AttemptID                              string
	HasCommand                             bool
	RequestedAt, FirstSeen, LastSeen       time.Time
	// FinishedAt is zero while the attempt has not finished.
	FinishedAt       time.Time
	Outcome          string
	CauseSpace       string
	CauseCode        int64
	Retries, Events  uint64
	Product, Version string
}

// CodeHex is the attempt's cause in hex (CauseHex); "" when it has none.
func (a Attempt) CodeHex() string { return CauseHex(a.CauseSpace, a.CauseCode) }

// attemptColumns are the columns Attempt scans, in order.
const attemptColumns = `tenant, device_id, scope, csp, target_id, attempt_id, has_command, requested_at,
	first_seen, last_seen, finished_at, outcome, cause_space, cause_code, retries, events, product, version`

func scanAttempt(sc scanner) (Attempt, error) {
	var (
		a   Attempt
		cmd uint8
	)
	err := sc.Scan(&a.Tenant, &a.DeviceID, &a.Scope, &a.CSP, &a.TargetID, &a.AttemptID, &cmd, &a.RequestedAt,
		&a.FirstSeen, &a.LastSeen, &a.FinishedAt, &a.Outcome, &a.CauseSpace, &a.CauseCode, &a.Retries, &a.Events,
		&a.Product, &a.Version)
	a.HasCommand = cmd == 1
	a.RequestedAt, a.FirstSeen, a.LastSeen = a.RequestedAt.UTC(), a.FirstSeen.UTC(), a.LastSeen.UTC()
	if a.FinishedAt.Unix() <= 0 {
		a.FinishedAt = time.Time{}
	} else {
		a.FinishedAt = a.FinishedAt.UTC()
	}
	return a, err
}

// Attempts lists the window's attempts narrowed by f (a device's, with
// f.Tenant and f.DeviceID), in the order they were requested, at most
// limit (1000 when limit <= 0): the latest ones when there are more.
//
// Cost: one query computing AttemptsQuery over the window and lookback;
// at most limit rows come back.
func (s *Store) Attempts(ctx context.Context, w Window, f AttemptFilter, limit int) ([]Attempt, error) {
	attempts, args, err := f.attempts(w)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 1000
	}
	q := `SELECT * FROM (SELECT ` + attemptColumns + ` FROM (` + attempts + `)
	ORDER BY ` + attemptOrder + ` DESC, target_id DESC LIMIT ?) ORDER BY ` + attemptOrder + `, target_id`
	return s.readAttempts(ctx, "attempts", q, append(args, limit))
}

// FailingDevices lists the devices whose latest attempt of a product
// version (narrowed by f) failed: that latest attempt, most recently
// finished first, at most limit (100 when limit <= 0). These are the
// devices a ProductInstalls row counts as Failed.
//
// Cost: one query computing AttemptsQuery over the window and lookback.
func (s *Store) FailingDevices(ctx context.Context, w Window, f AttemptFilter, limit int) ([]Attempt, error) {
	attempts, args, err := f.attempts(w)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	// The latest attempt per device and product version, as
	// perDeviceVersion picks it; argMax of a tuple keeps one row.
	q := `SELECT ` + attemptColumns + ` FROM (
		SELECT tenant, csp, product, version, device_id,
			tupleElement(l, 1) AS scope, tupleElement(l, 2) AS target_id, tupleElement(l, 3) AS attempt_id,
			tupleElement(l, 4) AS has_command, tupleElement(l, 5) AS requested_at, tupleElement(l, 6) AS first_seen,
			tupleElement(l, 7) AS last_seen, tupleElement(l, 8) AS finished_at, tupleElement(l, 9) AS outcome,
			tupleElement(l, 10) AS cause_space, tupleElement(l, 11) AS cause_code, tupleElement(l, 12) AS retries,
			tupleElement(l, 13) AS events
		FROM (
			SELECT tenant, csp, product, version, device_id,
				argMax((scope, target_id, attempt_id, has_command, requested_at, first_seen, last_seen, finished_at,
					outcome, cause_space, cause_code, retries, events), ` + attemptOrder + `) AS l
			FROM (` + attempts + `)
			GROUP BY tenant, csp, product, version, device_id
		)
	)
	WHERE outcome = 'failed'
	ORDER BY finished_at DESC, tenant, device_id, product, version
	LIMIT ?`
	return s.readAttempts(ctx, "failing devices", q, append(args, limit))
}

// readAttempts runs q, which selects attemptColumns, and returns its rows
// (an empty slice, not nil, when there is none); what names q in errors.
func (s *Store) readAttempts(ctx context.Context, what, q string, args []any) ([]Attempt, error) {
	out := []Attempt{}
	err := s.each(ctx, what, q, args, func(sc scanner) error {
		a, err := scanAttempt(sc)
		if err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// Tenants lists the tenants with an event received in [w.From, w.To),
// sorted, at most 1000. It reads install_events only (no attempts).
func (s *Store) Tenants(ctx context.Context, w Window) ([]string, error) {
	out := []string{}
	err := s.each(ctx, "tenants", `SELECT DISTINCT tenant FROM install_events
	WHERE received_at >= ? AND received_at < ? ORDER BY tenant LIMIT 1000`,
		[]any{w.From.UTC(), w.To.UTC()}, func(sc scanner) error {
			var t string
			if err := sc.Scan(&t); err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	return out, err
}
