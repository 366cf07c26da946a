package alerts

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/store"
)

// DefaultLookback is how far before a bucket the source reads events to
// rebuild the attempts that end in it (store.AttemptsQuery): the report's
// default too, so that an install command sent days before its failure
// still gives the attempt its version.
const DefaultLookback = 7 * 24 * time.Hour

// Bucket is the failed-attempt counts of one bucket, code and product
// level.
type Bucket struct {
	Start  time.Time
	Counts []Count
}

// Source reads failed-attempt counts per bucket.
type Source interface {
	// Buckets returns the counts of every bucket of length bucket starting
	// in [from, to), in time order, empty buckets included.
	Buckets(ctx context.Context, from, to time.Time, bucket time.Duration) ([]Bucket, error)
}

// ClickHouseSource counts failed install attempts (store.AttemptsQuery, the
// rule of DESIGN.md "Install attempts"), not events: one failed MSI install
// that reported the install alert 1603, MSI Status 60 and LastError
// 0x80070643 is one failed attempt with cause win32 1603.
//
// What counts: an attempt counts in the bucket holding its finished_at (its
// last succeeded or failed report) when its outcome, as of the end of the
// range read, is failed. A retrying attempt (failed, then reported progress
// again) is not a failure until it fails again; a pending, in-progress or
// unknown one is not counted. Succeeded attempts count only in Finished,
// the denominator of an alert's failed share.
//
// Keys: product level (tenant, csp, target_id, version, cause), named by the
// attempts' product column (the catalog's name); an attempt with an empty
// CSP or target never has one (AttemptsQuery reads only events with a
// target). Code level (tenant, cause) across every product and CSP.
//
// Guarantees: the counts depend only on the events stored, never on their
// order of arrival or on redeliveries. One call reads the range at once, so
// an attempt is judged by its events up to the range's end: a live
// evaluation (one bucket a call) counts an attempt that fails, retries and
// fails again in both buckets, a replay of both buckets at once only in the
// second. Attempts whose command lies more than Lookback before the range
// are read without it (DESIGN.md, attempt 0): without the command's
// version when no device reported one.
//
// Cost per call: two GROUP BY queries (one per level) over the attempts of
// [from - Lookback, to), each a GROUP BY over those events (see
// store.AttemptsQuery); no state is kept between calls.
type ClickHouseSource struct {
	Store *store.Store
	// Lookback is how far before from the events are read; DefaultLookback
	// when zero. NewEngine sets it from Config.Lookback when zero.
	Lookback time.Duration
}

func (s ClickHouseSource) lookback() time.Duration {
	if s.Lookback <= 0 {
		return DefaultLookback
	}
	return s.Lookback
}

// Buckets implements Source.
func (s ClickHouseSource) Buckets(ctx context.Context, from, to time.Time, bucket time.Duration) ([]Bucket, error) {
	if bucket < time.Second || bucket%time.Second != 0 {
		return nil, fmt.Errorf("alerts source: bucket %v is not whole seconds", bucket)
	}
	from, to = from.UTC(), to.UTC()
	byStart := map[int64][]Count{}
	for _, level := range []Level{LevelProduct, LevelCode} {
		counts, err := s.level(ctx, level, from, to, bucket)
		if err != nil {
			return nil, err
		}
		for b, cs := range counts {
			byStart[b] = append(byStart[b], cs...)
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

// scopeKey is what Finished is counted over: the product version at
// product level, the tenant at code level.
type scopeKey struct {
	b                            int64
	tenant, csp, target, version string
}

func (k Key) scope(b int64) scopeKey {
	return scopeKey{b, k.Tenant, k.CSP, k.Target, k.Version}
}

// level returns one level's failed-attempt counts by bucket start.
func (s ClickHouseSource) level(ctx context.Context, level Level, from, to time.Time, bucket time.Duration) (map[int64][]Count, error) {
	rows, err := s.Store.AttemptCounts(ctx, store.AttemptCountsOptions{
		ByProduct: level == LevelProduct, From: from, To: to, Bucket: bucket, Lookback: s.lookback(),
	})
	if err != nil {
		return nil, fmt.Errorf("alerts source %s counts: %w", level, err)
	}
	var failed []Count
	var starts []int64
	finished, requested := map[scopeKey]uint64{}, map[scopeKey]uint64{}
	for _, r := range rows {
		c := Count{
			Key:      Key{Level: level, Tenant: r.Tenant, CSP: r.CSP, Target: r.Target, Version: r.Version, Space: codes.Space(r.CauseSpace), Code: r.CauseCode},
			Attempts: r.Attempts, Devices: r.Devices, Samples: r.Samples, ProductName: r.Product,
		}
		b := r.Bucket.Unix()
		if r.Kind == store.CountRequested {
			requested[c.Key.scope(b)] += c.Attempts
			continue
		}
		finished[c.Key.scope(b)] += c.Attempts
		if r.Kind != store.CountFailed || r.CauseSpace == "" || (level == LevelProduct && (c.Key.CSP == "" || c.Key.Target == "")) {
			continue
		}
		if level == LevelCode || c.ProductName == store.UnknownLabel(c.Key.Target) {
			c.ProductName = "" // nothing names it: Alert.product marks it unknown
		}
		failed = append(failed, c)
		starts = append(starts, b)
	}
	out := map[int64][]Count{}
	for sk := range requested {
		if _, ok := finished[sk]; !ok {
			finished[sk] = 0
		}
	}
	for sk, n := range finished {
		k := Key{Level: level, Tenant: sk.tenant, CSP: sk.csp, Target: sk.target, Version: sk.version}
		if level == LevelProduct && (k.CSP == "" || k.Target == "") {
			continue
		}
		out[sk.b] = append(out[sk.b], Count{Key: k, Finished: n, Requested: requested[sk]})
	}
	for i, c := range failed {
		c.Finished = finished[c.Key.scope(starts[i])]
		out[starts[i]] = append(out[starts[i]], c)
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

// Namer is implemented by a Source that can name a product again when an
// alert is claimed: an administrator may have named it, or a device
// reported its name, since the bucket was read.
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
	m, err := s.Store.Products(ctx, []store.ProductKey{k})
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
