package alerts

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/store"
)

// The code a failure is counted under: store.CauseSpace and CauseCode, the
// report's too, so that 0x80070643 from one node and 1603 from a generic
// alert are one spike.
const (
	spaceExpr = store.CauseSpace
	codeExpr  = store.CauseCode
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

// ClickHouseSource counts failures in install_events, with device answers
// attributed to the server commands they answer (store.AttributedEvents). Each call runs two
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
	from, to = from.UTC(), to.UTC()
	// By default failures are counted over the attributed events, so that a
	// device's answer naming no node (404 to a Get of .../Status) counts
	// against the product of the server command it answers.
	table, window := s.Table, []any(nil)
	if table == "" {
		table, window = store.AttributedEvents, store.AttributedArgs(from, to)
	}
	byStart := map[int64][]Count{}
	for _, level := range []Level{LevelProduct, LevelCode} {
		cols, cond := "", ""
		if level == LevelProduct {
			cols, cond = ", target_id, product_version", " AND target_id != ''"
		}
		q := fmt.Sprintf(countsQuery, table, cols, cond)
		args := append(append([]any{secs, secs}, window...), from.Unix(), to.Unix())
		rows, err := s.Conn.Query(ctx, q, args...)
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
// the product catalog (schema/007) knows what any device of the tenant
// reported for it, the label of the install command and the name an
// administrator gave it.
type Namer interface {
	// Product returns the catalog's best knowledge of the target; Known is
	// false when nothing names it.
	Product(ctx context.Context, tenant, csp, target string) (store.Product, error)
}

// Product implements Namer: it reads the catalog's rows of one target (a
// range of product_catalog's order key) and takes, per field, the value of
// the highest-priority source that has one (store.CatalogQuery).
func (s ClickHouseSource) Product(ctx context.Context, tenant, csp, target string) (store.Product, error) {
	k := store.ProductKey{Tenant: tenant, CSP: csp, TargetID: target}
	m, err := store.LookupProducts(ctx, s.Conn, []store.ProductKey{k})
	if err != nil {
		return store.Product{ProductKey: k}, fmt.Errorf("alerts source product: %w", err)
	}
	return m[k], nil
}

// ProductName returns the catalog's name of the target (an administrator's
// name, else the newest name any device reported, else the install
// command's label), or "" when nothing names it.
func (s ClickHouseSource) ProductName(ctx context.Context, tenant, csp, target string) (string, error) {
	p, err := s.Product(ctx, tenant, csp, target)
	if err != nil {
		return "", err
	}
	return p.Name, nil
}
