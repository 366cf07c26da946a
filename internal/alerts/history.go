package alerts

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cspwatch/cspwatch/internal/codes"
)

// ListOptions select alerts from the alerts table.
type ListOptions struct {
	// Since keeps the alerts with a transition at or after it.
	Since time.Time
	// IncludeOpen also keeps, whatever Since, the alerts still open: those
	// with no resolved transition (latest status firing). An alert fires
	// once and stays open until it resolves, so a range that starts after
	// it fired would otherwise hide it.
	IncludeOpen bool
	// Tenant keeps one tenant's alerts; all when empty.
	Tenant string
	// Table is the alerts table; "alerts" when empty.
	Table string
	// Limit bounds the rows read (two per resolved alert); 0 means 10000.
	Limit int
}

// ListAlerts reads the alerts table with FINAL, so that a transition
// delivered twice counts once, and returns one Alert per spike in its latest
// status, oldest first. The query reads the table's rows since o.Since
// (and, with o.IncludeOpen, those of every alert not resolved); the table
// holds a handful of rows per spike.
func ListAlerts(ctx context.Context, conn driver.Conn, o ListOptions) ([]Alert, error) {
	table := o.Table
	if table == "" {
		table = "alerts"
	}
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
		// The open alerts: no resolved row. The subquery reads two short
		// columns of the whole table, a handful of rows per spike.
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
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("alerts list: %w", err)
	}
	defer rows.Close()
	var (
		out   []Alert
		index = map[string]int{}
	)
	for rows.Next() {
		var (
			a                         Alert
			status, level, space      string
			severity                  string
			at, firstSeen, resolvedAt time.Time
			bucketSeconds             uint32
		)
		err := rows.Scan(&a.ID, &status, &level, &at, &a.Tenant, &a.CSP, &a.TargetID, &a.ProductName, &a.ProductVersion,
			&space, &a.Code, &a.CodeHex, &a.CodeName, &a.CodeDescription, &a.Category,
			&a.Failures, &a.Devices, &a.Peak, &a.Baseline, &a.Factor, &a.SampleDevices,
			&firstSeen, &resolvedAt, &bucketSeconds, &a.Summary, &a.Query,
			&severity, &a.Advice, &a.CodeSource, &a.Attempts, &a.Finished, &a.Share, &a.DeviceBaseline)
		if err != nil {
			return nil, fmt.Errorf("alerts list: %w", err)
		}
		a.Status, a.Level, a.CodeSpace, a.Severity = Status(status), Level(level), codes.Space(space), Severity(severity)
		if a.Attempts == 0 {
			a.Attempts = a.Failures // a row written before attempts were counted
		}
		a.FirstSeen, a.BucketSeconds = firstSeen.UTC(), int(bucketSeconds)
		if resolvedAt.Unix() > 0 {
			a.ResolvedAt = resolvedAt.UTC()
		}
		a.key = keyFromAlert(&a)
		if a.Level == LevelProduct && a.ProductVersion != "" && !strings.HasPrefix(a.ID, a.key.Hash()+"-") {
			// The table has no column saying the version came from the
			// catalog; the id, made from the key, does.
			k := a.key
			k.Version = ""
			if strings.HasPrefix(a.ID, k.Hash()+"-") {
				a.key, a.VersionFromCatalog = k, true
			}
		}
		// Rows come firing before resolved: the later row is the latest status.
		if i, ok := index[a.ID]; ok {
			out[i] = a
			continue
		}
		index[a.ID] = len(out)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alerts list: %w", err)
	}
	return out, nil
}
