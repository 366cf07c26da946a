package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
)

// DefaultReportLookback is how far before its window the report reads
// events by default, so that an attempt whose install command came before
// the window keeps its command, version and earlier failures.
const DefaultReportLookback = 7 * 24 * time.Hour

// ReportOptions select the fleet summary.
type ReportOptions struct {
	// Now is the report's reference time (the caller's clock, so that tests
	// can fix it). The window ends at Now rounded up to the second (receipt
	// times are stored to the second).
	Now time.Time
	// Since is how far back the window starts: it is [Now-Since, Now).
	Since time.Duration
	// Lookback is how much earlier than the window events are read to
	// place the window's events in their attempts (AttemptsQuery);
	// DefaultReportLookback when zero.
	Lookback time.Duration
	// Tenant restricts the report to one tenant; empty means all.
	Tenant string
	// StuckAfter is how long an attempt may stay active (in progress,
	// pending or retrying) after its install command before it is listed
	// as stuck.
	StuckAfter time.Duration
	// Top bounds the causes and the stuck attempts listed; 10 when zero or
	// less.
	Top int
}

// Report is the fleet summary of `aggregator report`, counted in devices
// and install attempts (AttemptsQuery), never in events.
type Report struct {
	// From and To are the window, [From, To).
	From, To time.Time
	// Lookback and StuckAfter are the options the report was made with.
	Lookback, StuckAfter time.Duration
	// Devices are the distinct devices (per tenant) with an attempt in the
	// window, Attempts the attempts, Events the distinct events of those
	// attempts (a secondary figure: one failed MSI install is three).
	Devices, Attempts, Events uint64
	// Products, most failed devices first.
	Products []ProductInstalls
	// Causes of failed attempts, most devices affected first, at most Top.
	Causes []Cause
	// Stuck attempts, oldest first, at most Top.
	Stuck []StuckAttempt
}

// ProductInstalls is the installs of one product version in the window.
// Devices are counted once each, by their latest attempt of the version:
// a device that failed and then succeeded on a new command is a succeeded
// device. Devices = Succeeded + Failed + Active.
type ProductInstalls struct {
	Tenant, CSP string
	// Product is the catalog's name (see Product.Label): a target id marked
	// " (unknown product)" when nothing names it. Version is the version
	// being installed, as AttemptsQuery has it (the install command's, else
	// the device's, else the catalog's); empty when none is known.
	Product, Version string
	// TargetID is the target of the product's attempts; when several
	// targets carry the same name and version, their ids sorted and joined
	// with ",".
	TargetID string
	// Devices is the devices with an attempt of the version; Succeeded,
	// Failed and Active (in progress, pending or retrying) split them by
	// the outcome of their latest attempt.
	Devices, Succeeded, Failed, Active uint64
	// Attempts is every attempt of the version in the window, the devices'
	// earlier ones included; FailedAttempts those that failed.
	Attempts, FailedAttempts uint64
}

// SuccessRate is Succeeded / (Succeeded + Failed), or -1 when no device
// finished.
func (p ProductInstalls) SuccessRate() float64 {
	if p.Succeeded+p.Failed == 0 {
		return -1
	}
	return float64(p.Succeeded) / float64(p.Succeeded+p.Failed)
}

// Cause is one cause of failed attempts: the code of each failed attempt
// (AttemptsQuery's cause), folded so that a FACILITY_WIN32 HRESULT and its
// Win32 code are one cause (0x80070643 is win32 1603).
type Cause struct {
	// Space and Code identify the cause; CodeHex is its 32-bit hex form
	// (see CauseHex), empty when it has none.
	Space   string
	Code    int64
	CodeHex string
	// Name, Category, Advice and Source are internal/codes' (codes.Classify);
	// empty when the catalog does not know them.
	Name, Category, Advice, Source string
	// A failed attempt none of whose failures AttemptsQuery could rank
	// (no code, or a failure tied with a success in the same millisecond
	// and CmdID) has the empty cause: Space "" and Code 0.
	//
	// Devices is the devices whose latest attempt of a product version
	// failed with this cause (still failing); Attempts every failed attempt
	// with this cause in the window, those later superseded by a success
	// included. A cause seen only in superseded attempts has Devices 0.
	Devices, Attempts uint64
	// Products are the product versions the cause hit, most devices first,
	// at most TopCauseProducts.
	Products []CauseProduct
}

// TopCauseProducts bounds Cause.Products.
const TopCauseProducts = 3

// CauseProduct is one product version a cause hit, its Devices and
// Attempts counted as Cause's.
type CauseProduct struct {
	Tenant, CSP, TargetID string
	Product, Version      string
	Devices, Attempts     uint64
}

// StuckAttempt is a device's latest attempt of a target that is still
// active (in progress, pending or retrying) StuckAfter or more after it
// was requested. Product and Version are named as in ProductInstalls.
type StuckAttempt struct {
	Tenant, DeviceID, Scope, CSP, TargetID string
	AttemptID                              string
	Product, Version, Outcome              string
	// HasCommand says an install command started the attempt; without
	// one, RequestedAt is the attempt's first event.
	HasCommand bool
	// RequestedAt is the install command's receipt, LastSeen the
	// attempt's latest event, Age the report's To minus RequestedAt.
	RequestedAt, LastSeen time.Time
	Age                   time.Duration
	Retries               uint64
}

// CauseHex is the hex form of a cause: the 32-bit value of an HRESULT
// (0x86000002), and for a Win32 code (1..0xFFFF) the FACILITY_WIN32 HRESULT
// that wraps it (1603 is 0x80070643), the form Windows logs it in. Other
// codes (MSI and Office states, OMA-DM statuses) have none: "".
func CauseHex(space string, code int64) string {
	switch {
	case codes.IsHRESULT(code):
		return string(codes.AppendHex(nil, code))
	case space == string(codes.SpaceWin32) && code > 0 && code <= 0xFFFF:
		return string(codes.AppendHex(nil, 0x80070000|code))
	}
	return ""
}

// tenantFilter is "" or " AND tenant = ?" with its argument appended.
func tenantFilter(tenant string, args []any) (string, []any) {
	if tenant == "" {
		return "", args
	}
	return " AND tenant = ?", append(args, tenant)
}

// reportAttempts is the SQL of the report's attempts: AttemptsQuery's rows
// that name a CSP and say something of an install (outcome not unknown: an
// inventory or a 200 to a Get with no install command is no attempt to
// count), restricted by tf (see tenantFilter). Arguments: AttemptArgs, then
// tf's.
func reportAttempts(tf string) string {
	return `SELECT * FROM ` + AttemptsQuery + `
	WHERE csp != '' AND outcome != '` + AttemptUnknown + `'` + tf
}

// attemptOrder orders the attempts of one device and target: the latest is
// the one requested last (attempt 0, without a command, comes first).
const attemptOrder = "(requested_at, first_seen, last_seen, attempt_id)"

// withAttempts writes the report's attempts (reportAttempts) into q in
// place of {attempts}.
func withAttempts(q, attempts string) string { return strings.ReplaceAll(q, "{attempts}", attempts) }

// perDeviceVersion is one row per device and product version of the
// report's attempts ({attempts}): the latest attempt's outcome and id, the targets,
// the number of attempts and failed ones, and the failed attempts as
// (attempt_id, cause_space, cause_code, target_id).
const perDeviceVersion = `SELECT tenant, csp, product, version, device_id,
		argMax(outcome, ` + attemptOrder + `) AS latest,
		argMax(attempt_id, ` + attemptOrder + `) AS latest_id,
		groupUniqArray(target_id) AS tids,
		count() AS n,
		countIf(outcome = 'failed') AS nf,
		groupArrayIf((attempt_id, cause_space, cause_code, target_id), outcome = 'failed') AS fails
	FROM ({attempts})
	GROUP BY tenant, csp, product, version, device_id`

// productsQuery counts each product version's devices by their latest
// attempt, most failed devices first.
const productsQuery = `SELECT tenant, csp, product, version,
	arrayStringConcat(arraySort(groupUniqArrayArray(tids)), ',') AS target_ids,
	count() AS n_devices,
	countIf(latest = 'succeeded') AS n_succeeded,
	countIf(latest = 'failed') AS n_failed,
	countIf(latest IN ('in_progress', 'pending', 'retrying')) AS n_active,
	sum(n) AS n_attempts,
	sum(nf) AS n_failed_attempts
FROM (` + perDeviceVersion + `)
GROUP BY tenant, csp, product, version
ORDER BY n_failed DESC, n_devices DESC, product, version, tenant, csp`

// causesQuery counts each cause's devices (latest attempt failed with it)
// and failed attempts. Its last argument is the limit.
const causesQuery = `SELECT tupleElement(f, 2) AS cs, tupleElement(f, 3) AS cc,
	uniqExactIf(tenant, device_id, tupleElement(f, 1) = latest_id) AS n_devices,
	count() AS n_attempts
FROM (` + perDeviceVersion + `)
ARRAY JOIN fails AS f
GROUP BY cs, cc
ORDER BY n_devices DESC, n_attempts DESC, cs, cc
LIMIT ?`

// causeProductsQuery is each cause's product versions, counted as
// causesQuery counts, at most TopCauseProducts per cause.
var causeProductsQuery = `SELECT tupleElement(f, 2) AS cs, tupleElement(f, 3) AS cc, tenant, csp, product, version,
	arrayStringConcat(arraySort(groupUniqArray(tupleElement(f, 4))), ',') AS target_ids,
	uniqExactIf(device_id, tupleElement(f, 1) = latest_id) AS n_devices,
	count() AS n_attempts
FROM (` + perDeviceVersion + `)
ARRAY JOIN fails AS f
GROUP BY cs, cc, tenant, csp, product, version
ORDER BY cs, cc, n_devices DESC, n_attempts DESC, product, version, tenant, csp
LIMIT ` + fmt.Sprint(TopCauseProducts) + ` BY cs, cc`

// stuckQuery is the latest attempt of each device and target when it is
// active and was requested at or before the bound, oldest first. Its last
// arguments are the bound and the limit.
const stuckQuery = `SELECT tenant, device_id, scope, csp, target_id,
	tupleElement(a, 1) AS s_id, tupleElement(a, 2) AS s_outcome, tupleElement(a, 3) AS s_requested,
	tupleElement(a, 4) AS s_last, tupleElement(a, 5) AS s_product, tupleElement(a, 6) AS s_version,
	tupleElement(a, 7) AS s_retries, tupleElement(a, 8) AS s_cmd
FROM (
	SELECT tenant, device_id, scope, csp, target_id,
		argMax((attempt_id, outcome, requested_at, last_seen, product, version, retries, has_command), ` + attemptOrder + `) AS a
	FROM ({attempts})
	GROUP BY tenant, device_id, scope, csp, target_id
)
WHERE s_outcome IN ('in_progress', 'pending', 'retrying') AND s_requested <= ?
ORDER BY s_requested, tenant, device_id, csp, target_id
LIMIT ?`

// FleetReport computes the fleet summary of the window [Now-Since, Now):
// the install attempts AttemptsQuery gives for it (read with Lookback),
// counted in devices and attempts.
//
// Guarantees: every figure counts attempts or devices, never events (one
// failed MSI install, three failed events, is one failed attempt of one
// device with one cause); a replayed or duplicated event changes nothing;
// a product row always names a CSP; products and causes are named by the
// catalog as AttemptsQuery names them. See the types for what each figure
// counts.
//
// Cost: five queries, each of which computes AttemptsQuery (a GROUP BY over
// the events of the window plus the lookback, with its joins) and then
// aggregates its rows in ClickHouse; the tenant filter applies to the
// attempts, after they are computed for all tenants. Only the report's
// rows come back to the caller.
func (s *Store) FleetReport(ctx context.Context, o ReportOptions) (Report, error) {
	if o.Top <= 0 {
		o.Top = 10
	}
	if o.Lookback <= 0 {
		o.Lookback = DefaultReportLookback
	}
	// Receipt times are stored to the second: the window ends at Now
	// rounded up to one, so that what was received in Now's second, before
	// Now, is in it.
	to := o.Now.UTC().Truncate(time.Second)
	if to.Before(o.Now) {
		to = to.Add(time.Second)
	}
	from := to.Add(-o.Since)
	rep := Report{From: from, To: to, Lookback: o.Lookback, StuckAfter: o.StuckAfter,
		Products: []ProductInstalls{}, Causes: []Cause{}, Stuck: []StuckAttempt{}}
	tf, args := tenantFilter(o.Tenant, AttemptArgs(from, to, o.Lookback))
	attempts := reportAttempts(tf)

	q := `SELECT uniqExact(tenant, device_id), count(), sum(events) FROM (` + attempts + `)`
	if err := s.conn.QueryRow(ctx, q, args...).Scan(&rep.Devices, &rep.Attempts, &rep.Events); err != nil {
		return rep, fmt.Errorf("report totals: %w", err)
	}

	err := s.each(ctx, "report products", withAttempts(productsQuery, attempts), args, func(sc scanner) error {
		var p ProductInstalls
		if err := sc.Scan(&p.Tenant, &p.CSP, &p.Product, &p.Version, &p.TargetID, &p.Devices, &p.Succeeded,
			&p.Failed, &p.Active, &p.Attempts, &p.FailedAttempts); err != nil {
			return err
		}
		rep.Products = append(rep.Products, p)
		return nil
	})
	if err != nil {
		return rep, err
	}

	type causeKey struct {
		space string
		code  int64
	}
	index := map[causeKey]int{}
	err = s.each(ctx, "report causes", withAttempts(causesQuery, attempts), append(args, o.Top), func(sc scanner) error {
		var c Cause
		if err := sc.Scan(&c.Space, &c.Code, &c.Devices, &c.Attempts); err != nil {
			return err
		}
		info := codes.Classify(codes.Space(c.Space), c.Code)
		c.CodeHex = CauseHex(c.Space, c.Code)
		c.Name, c.Category, c.Advice, c.Source = info.Name, string(info.Category), info.Advice, info.Source
		c.Products = []CauseProduct{}
		index[causeKey{c.Space, c.Code}] = len(rep.Causes)
		rep.Causes = append(rep.Causes, c)
		return nil
	})
	if err != nil {
		return rep, err
	}
	if len(rep.Causes) > 0 {
		err = s.each(ctx, "report cause products", withAttempts(causeProductsQuery, attempts), args, func(sc scanner) error {
			var (
				k causeKey
				p CauseProduct
			)
			if err := sc.Scan(&k.space, &k.code, &p.Tenant, &p.CSP, &p.Product, &p.Version, &p.TargetID,
				&p.Devices, &p.Attempts); err != nil {
				return err
			}
			if i, ok := index[k]; ok {
				rep.Causes[i].Products = append(rep.Causes[i].Products, p)
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
	}

	// An attempt stuck since before the window has no event in it: stuck
	// attempts are read over the whole lookback, whatever Since is.
	stuckFrom := from
	if lb := to.Add(-o.Lookback); lb.Before(stuckFrom) {
		stuckFrom = lb
	}
	_, stuckArgs := tenantFilter(o.Tenant, AttemptArgs(stuckFrom, to, o.Lookback))
	err = s.each(ctx, "report stuck attempts", withAttempts(stuckQuery, attempts), append(stuckArgs, to.Add(-o.StuckAfter), o.Top), func(sc scanner) error {
		var (
			d   StuckAttempt
			cmd uint8
		)
		if err := sc.Scan(&d.Tenant, &d.DeviceID, &d.Scope, &d.CSP, &d.TargetID, &d.AttemptID, &d.Outcome,
			&d.RequestedAt, &d.LastSeen, &d.Product, &d.Version, &d.Retries, &cmd); err != nil {
			return err
		}
		d.HasCommand = cmd == 1
		d.RequestedAt, d.LastSeen = d.RequestedAt.UTC(), d.LastSeen.UTC()
		d.Age = to.Sub(d.RequestedAt)
		rep.Stuck = append(rep.Stuck, d)
		return nil
	})
	if err != nil {
		return rep, err
	}
	return rep, nil
}

// scanner is the row a query callback scans.
type scanner interface{ Scan(dest ...any) error }

// each runs q and calls fn for each row; an error of either is returned
// wrapped in what (such as "report products").
func (s *Store) each(ctx context.Context, what, q string, args []any, fn func(scanner) error) error {
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// CauseSpace and CauseCode are the SQL of the cause a failure counts under,
// as codes.Canonical has it, for the report and the spike detector alike: a
// FACILITY_WIN32 HRESULT (win32_code set) is its Win32 code, so 0x80070643
// and 1603 are one cause. Alias them apart from code_space and code: 18.16
// resolves an alias before a column of the same name.
const (
	CauseSpace = "if(win32_code != 0, 'win32', code_space)"
	CauseCode  = "if(win32_code != 0, win32_code, code)"
)
