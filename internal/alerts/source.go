package alerts

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cspwatch/cspwatch/internal/codes"
)

// The code a failure is counted under: a FACILITY_WIN32 HRESULT (win32_code
// set) counts as its Win32 code, so that 0x80070643 from one node and 1603
// from a generic alert are one spike.
const (
	spaceExpr = "if(win32_code != 0, 'win32', code_space)"
	codeExpr  = "if(win32_code != 0, win32_code, code)"
)

// Bucket is the failure counts of one bucket, code and product level.
type Bucket struct {
	Start  time.Time
	Counts []Count
}

// Source reads failure counts per bucket.
type Source interface {
	// Buckets returns the counts of every bucket of length bucket starting
	// in [from, to), in time order, empty buckets included.
	Buckets(ctx context.Context, from, to time.Time, bucket time.Duration) ([]Bucket, error)
}

// ClickHouseSource counts failures in install_events. Each call runs two
// GROUP BY queries over the time range (one per level), served by the
// table's month partitions and its (tenant, csp, target_id, received_at)
// order; no state is kept between calls.
type ClickHouseSource struct {
	Conn driver.Conn
	// Table is the events table; install_events when empty.
	Table string
}

// countsQuery groups failed events by bucket and key. Failures count
// distinct event ids, not rows: install_events may hold a redelivered event
// twice until a merge collapses it (see schema/001), and uniqExact needs no
// FINAL, which would read the whole range through one merging stream. %s are the table, the
// extra key columns and an extra condition; the bucket length in seconds is
// the first two parameters.
const countsQuery = `SELECT toUInt32(intDiv(toUInt32(received_at), ?) * ?) AS b, tenant, csp,
	` + spaceExpr + ` AS sp, ` + codeExpr + ` AS c%[2]s,
	uniqExact(event_id) AS failures, uniq(device_id) AS devices, arraySlice(arraySort(groupUniqArray(device_id)), 1, 3) AS samples,
	anyIf(product_name, product_name != '') AS pn, anyIf(code_name, code_name != '') AS cn,
	anyIf(category, category != '') AS cat
FROM %[1]s
WHERE outcome = 'failed' AND received_at >= toDateTime(?) AND received_at < toDateTime(?)%[3]s
GROUP BY b, tenant, csp, sp, c%[2]s
ORDER BY b`

// Buckets implements Source.
func (s ClickHouseSource) Buckets(ctx context.Context, from, to time.Time, bucket time.Duration) ([]Bucket, error) {
	secs := int64(bucket / time.Second)
	if secs <= 0 || bucket%time.Second != 0 {
		return nil, fmt.Errorf("alerts source: bucket %v is not whole seconds", bucket)
	}
	table := s.Table
	if table == "" {
		table = "install_events"
	}
	from, to = from.UTC(), to.UTC()
	byStart := map[int64][]Count{}
	for _, level := range []Level{LevelProduct, LevelCode} {
		cols, cond := "", ""
		if level == LevelProduct {
			cols, cond = ", target_id, product_version", " AND target_id != ''"
		}
		q := fmt.Sprintf(countsQuery, table, cols, cond)
		rows, err := s.Conn.Query(ctx, q, secs, secs, from.Unix(), to.Unix())
		if err != nil {
			return nil, fmt.Errorf("alerts source %s counts: %w", level, err)
		}
		for rows.Next() {
			var (
				b  uint32
				c  Count
				sp string
			)
			c.Key.Level = level
			dst := []any{&b, &c.Key.Tenant, &c.Key.CSP, &sp, &c.Key.Code}
			if level == LevelProduct {
				dst = append(dst, &c.Key.Target, &c.Key.Version)
			}
			dst = append(dst, &c.Failures, &c.Devices, &c.Samples, &c.ProductName, &c.CodeName, &c.Category)
			if err := rows.Scan(dst...); err != nil {
				rows.Close()
				return nil, fmt.Errorf("alerts source %s counts: %w", level, err)
			}
			c.Key.Space = codes.Space(sp)
			byStart[int64(b)] = append(byStart[int64(b)], c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("alerts source %s counts: %w", level, err)
		}
	}
	var out []Bucket
	for t := align(from, bucket); t.Before(to); t = t.Add(bucket) {
		if t.Before(from) {
			continue
		}
		cs := byStart[t.Unix()]
		sort.Slice(cs, func(i, j int) bool { return cs[i].Key.less(cs[j].Key) })
		out = append(out, Bucket{Start: t, Counts: cs})
	}
	return out, nil
}

// align returns the start of the bucket holding t; buckets are aligned to
// the Unix epoch, as the query's intDiv is.
func align(t time.Time, bucket time.Duration) time.Time {
	secs := int64(bucket / time.Second)
	u := t.Unix()
	m := u % secs
	if m < 0 {
		m += secs
	}
	return time.Unix(u-m, 0).UTC()
}

// Namer is implemented by a Source that can name a product the failing
// events did not name: MSI install alerts carry only the ProductCode, while
// the Results of the same target carry Name and Version.
type Namer interface {
	ProductName(ctx context.Context, tenant, csp, target string) (string, error)
}

// ProductName returns the name the target's newest event with a product
// name reported, or "" when none did. It reads one tenant's, one CSP's,
// one target's rows, a range of the table's order key.
func (s ClickHouseSource) ProductName(ctx context.Context, tenant, csp, target string) (string, error) {
	table := s.Table
	if table == "" {
		table = "install_events"
	}
	var name string
	err := s.Conn.QueryRow(ctx, "SELECT argMax(product_name, received_at) FROM "+table+
		" WHERE tenant = ? AND csp = ? AND target_id = ? AND product_name != ''", tenant, csp, target).Scan(&name)
	if err != nil {
		return "", fmt.Errorf("alerts source product name: %w", err)
	}
	return name, nil
}
