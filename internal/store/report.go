package store

import (
	"context"
	"fmt"
	"time"
)

// ReportOptions select the fleet summary.
type ReportOptions struct {
	// Now is the report's reference time (the caller's clock, so that tests
	// can fix it).
	Now time.Time
	// Since is how far back the report looks.
	Since time.Duration
	// Tenant restricts the report to one tenant; empty means all.
	Tenant string
	// StuckAfter is how long a device may stay in progress before it is
	// listed as stuck.
	StuckAfter time.Duration
	// Top bounds the failure codes and stuck devices listed.
	Top int
}

// ProductRate is the current state of one product version across the
// devices seen in the window.
type ProductRate struct {
	// Product is the catalog's name (see Product.Label): a target id marked
	// " (unknown product)" when nothing names it. Version is the one the
	// devices reported, else the catalog's.
	Tenant, CSP, Product, Version      string
	Devices, Succeeded, Failed, Active uint64 // Active: in progress, pending or retrying
}

// SuccessRate is Succeeded / (Succeeded + Failed), or -1 when nothing
// finished.
func (p ProductRate) SuccessRate() float64 {
	if p.Succeeded+p.Failed == 0 {
		return -1
	}
	return float64(p.Succeeded) / float64(p.Succeeded+p.Failed)
}

// FailureCode is one failure code's weight in the window.
type FailureCode struct {
	CodeSpace string
	Code      int64
	Events    uint64
	// Devices is approximate above ~65,000 (uniq state of the rollup).
	Devices  uint64
	Products uint64 // distinct targets
	// TopProducts are the products the code failed most on (at most
	// TopCodeProducts), most events first.
	TopProducts []CodeProduct
}

// TopCodeProducts bounds FailureCode.TopProducts.
const TopCodeProducts = 3

// CodeProduct is one product a failure code hit in the window.
type CodeProduct struct {
	Tenant, CSP, TargetID string
	// Product is the catalog's name or the target id marked unknown;
	// Version the catalog's, if any.
	Product, Version string
	Events           uint64
}

// StuckDevice is a device whose latest state of a target has been in
// progress, pending or retrying since at least StuckAfter. Product and
// Version are named as in ProductRate.
type StuckDevice struct {
	Tenant, DeviceID, Scope, CSP, TargetID string
	Product, Version, Outcome              string
	Code                                   int64
	Since                                  time.Time
}

// Report is the fleet summary of `aggregator report`.
type Report struct {
	From, To     time.Time
	Events       uint64
	Devices      uint64
	Products     []ProductRate
	FailureCodes []FailureCode
	Stuck        []StuckDevice
}

// tenantFilter is "" or " AND tenant = ?" with its argument appended.
func tenantFilter(tenant string, args []any) (string, []any) {
	if tenant == "" {
		return "", args
	}
	return " AND tenant = ?", append(args, tenant)
}

// FleetReport computes the fleet summary. Success rates come from
// install_state (the latest state per device and target seen in the window,
// with the last product version any event carried), failure codes from the
// window's events with device answers attributed to the server commands
// they answer (AttributedEvents), stuck devices from install_state joined with the progress
// events since the device's last final outcome. Products are named by the
// catalog (CatalogQuery): its best name, or the target id marked unknown;
// a version no device reported is the catalog's.
func (s *Store) FleetReport(ctx context.Context, o ReportOptions) (Report, error) {
	if o.Top <= 0 {
		o.Top = 10
	}
	to := o.Now.UTC().Truncate(time.Second)
	from := to.Add(-o.Since)
	rep := Report{From: from, To: to}

	tf, args := tenantFilter(o.Tenant, []any{from, to})
	q := "SELECT count(), uniqExact(device_id) FROM install_events FINAL WHERE received_at >= ? AND received_at <= ?" + tf
	if err := s.conn.QueryRow(ctx, q, args...).Scan(&rep.Events, &rep.Devices); err != nil {
		return rep, fmt.Errorf("report totals: %w", err)
	}

	tf, args = tenantFilter(o.Tenant, nil)
	args = append(args, from)
	ctf, args := tenantFilter(o.Tenant, args)
	q = `SELECT tenant, csp, ` + ProductLabelSQL + ` AS product, if(pv != '', pv, cat_version) AS ver,
		count() AS devices,
		countIf(outcome = 'succeeded'), countIf(outcome = 'failed'),
		countIf(outcome IN ('in_progress', 'pending', 'retrying'))
	FROM (
		SELECT tenant, device_id, scope, csp, target_id,
			argMaxIfMerge(last_outcome) AS outcome,
			argMaxIfMerge(last_product_version) AS pv,
			maxMerge(last_at) AS la
		FROM install_state
		WHERE 1 = 1` + tf + `
		GROUP BY tenant, device_id, scope, csp, target_id
		HAVING la >= ? AND outcome != ''
	)
	` + catalogJoin(ctf) + `
	GROUP BY tenant, csp, product, ver
	ORDER BY tenant, csp, product, ver`
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return rep, fmt.Errorf("report products: %w", err)
	}
	for rows.Next() {
		var p ProductRate
		if err := rows.Scan(&p.Tenant, &p.CSP, &p.Product, &p.Version, &p.Devices, &p.Succeeded, &p.Failed, &p.Active); err != nil {
			rows.Close()
			return rep, fmt.Errorf("report products: %w", err)
		}
		rep.Products = append(rep.Products, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("report products: %w", err)
	}

	// Failure codes come from the attributed events of the window, not the
	// hourly rollup: a device's 404 to a Get names no product until it is
	// tied to the server command it answers (AttributedEvents).
	tf, args = tenantFilter(o.Tenant, AttributedArgs(from, to.Add(time.Second)))
	q = `SELECT ` + CauseSpace + ` AS cs, ` + CauseCode + ` AS cc, uniqExact(event_id) AS n, uniq(device_id), uniqExactIf(target_id, target_id != '')
	FROM ` + AttributedEvents + `
	WHERE outcome = 'failed'` + tf + `
	GROUP BY cs, cc
	ORDER BY n DESC, cs, cc
	LIMIT ?`
	rows, err = s.conn.Query(ctx, q, append(args, o.Top)...)
	if err != nil {
		return rep, fmt.Errorf("report failure codes: %w", err)
	}
	for rows.Next() {
		var f FailureCode
		if err := rows.Scan(&f.CodeSpace, &f.Code, &f.Events, &f.Devices, &f.Products); err != nil {
			rows.Close()
			return rep, fmt.Errorf("report failure codes: %w", err)
		}
		rep.FailureCodes = append(rep.FailureCodes, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("report failure codes: %w", err)
	}
	if err := s.codeProducts(ctx, rep.FailureCodes, o.Tenant, from, to); err != nil {
		return rep, err
	}

	rep.Stuck, err = s.stuck(ctx, o.Tenant, to.Add(-o.StuckAfter), o.Top)
	if err != nil {
		return rep, err
	}
	return rep, nil
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

// codeProductsQuery counts the failures of the window per code and
// target, from the attributed events, and names each target from the
// catalog. Arguments: the window (AttributedArgs), the tenant filter of the
// events (see tenantFilter), the tenant filter of the catalog.
var codeProductsQuery = `SELECT cs, cc, tenant, csp, target_id, ` + ProductLabelSQL + `, cat_version, n
FROM (
	SELECT ` + CauseSpace + ` AS cs, ` + CauseCode + ` AS cc, tenant, csp, target_id, uniqExact(event_id) AS n
	FROM ` + AttributedEvents + `
	WHERE outcome = 'failed' AND target_id != ''%s
	GROUP BY cs, cc, tenant, csp, target_id
)
%s
ORDER BY cs, cc, n DESC, tenant, csp, target_id
LIMIT %d BY cs, cc`

// codeProducts fills the TopProducts of each of codes.
func (s *Store) codeProducts(ctx context.Context, codes []FailureCode, tenant string, from, to time.Time) error {
	if len(codes) == 0 {
		return nil
	}
	tf, args := tenantFilter(tenant, AttributedArgs(from, to.Add(time.Second)))
	ctf, args := tenantFilter(tenant, args)
	rows, err := s.conn.Query(ctx, fmt.Sprintf(codeProductsQuery, tf, catalogJoin(ctf), TopCodeProducts), args...)
	if err != nil {
		return fmt.Errorf("report failure code products: %w", err)
	}
	defer rows.Close()
	type codeKey struct {
		space string
		code  int64
	}
	index := make(map[codeKey]int, len(codes))
	for i, f := range codes {
		index[codeKey{f.CodeSpace, f.Code}] = i
	}
	for rows.Next() {
		var (
			k codeKey
			p CodeProduct
		)
		if err := rows.Scan(&k.space, &k.code, &p.Tenant, &p.CSP, &p.TargetID, &p.Product, &p.Version, &p.Events); err != nil {
			return fmt.Errorf("report failure code products: %w", err)
		}
		if i, ok := index[k]; ok {
			codes[i].TopProducts = append(codes[i].TopProducts, p)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("report failure code products: %w", err)
	}
	return nil
}

// StuckQuery finds devices in progress since before a time: the latest
// state says in progress, and the first progress event after the last final
// outcome is older than the bound; the catalog names the product. Arguments:
// tenant filter inside the state subquery (see tenantFilter), the bound,
// the catalog's tenant filter, the limit.
const stuckQuery = `SELECT tenant, device_id, scope, csp, target_id,
	` + ProductLabelSQL + `, if(pv != '', pv, cat_version), state, state_code, since
FROM (
	SELECT tenant, device_id, scope, csp, target_id,
		any(s_pv) AS pv, any(s_outcome) AS state, any(s_code) AS state_code, min(received_at) AS since
	FROM install_events FINAL
	ANY INNER JOIN (
		SELECT tenant, device_id, scope, csp, target_id,
			argMaxIfMerge(last_outcome) AS s_outcome,
			argMaxIfMerge(last_code) AS s_code,
			argMaxIfMerge(last_product_version) AS s_pv,
			maxIfMerge(last_final_at) AS s_final
		FROM install_state
		WHERE 1 = 1%s
		GROUP BY tenant, device_id, scope, csp, target_id
		HAVING s_outcome IN ('in_progress', 'pending', 'retrying')
	) USING (tenant, device_id, scope, csp, target_id)
	WHERE outcome IN ('in_progress', 'pending', 'retrying') AND received_at > s_final
	GROUP BY tenant, device_id, scope, csp, target_id
	HAVING since <= ?
)
%s
ORDER BY since, tenant, device_id
LIMIT ?`

func (s *Store) stuck(ctx context.Context, tenant string, before time.Time, limit int) ([]StuckDevice, error) {
	tf, args := tenantFilter(tenant, nil)
	ctf, args := tenantFilter(tenant, append(args, before))
	rows, err := s.conn.Query(ctx, fmt.Sprintf(stuckQuery, tf, catalogJoin(ctf)), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("report stuck devices: %w", err)
	}
	defer rows.Close()
	var out []StuckDevice
	for rows.Next() {
		var d StuckDevice
		if err := rows.Scan(&d.Tenant, &d.DeviceID, &d.Scope, &d.CSP, &d.TargetID, &d.Product, &d.Version, &d.Outcome, &d.Code, &d.Since); err != nil {
			return nil, fmt.Errorf("report stuck devices: %w", err)
		}
		d.Since = d.Since.UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report stuck devices: %w", err)
	}
	return out, nil
}
