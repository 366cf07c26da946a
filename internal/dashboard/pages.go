package dashboard

import (
	"context"
	"fmt"
	"html/template"
	"sort"
	"strconv"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/output"
	"github.com/cspwatch/cspwatch/internal/store"
)

// alertRow is a row of an alerts table.
type alertRow struct {
	alerts.Alert
	ProductLabel, ProductHref string
}

func (p params) alertRows(list []alerts.Alert, status alerts.Status) []alertRow {
	var out []alertRow
	for _, a := range list {
		if a.Status != status {
			continue
		}
		r := alertRow{Alert: a, ProductLabel: "every product (code-level)"}
		if a.Level == alerts.LevelProduct {
			r.ProductLabel = a.ProductName
			if r.ProductLabel == "" {
				r.ProductLabel = store.UnknownLabel(a.TargetID)
			}
			if a.ProductVersion != "" {
				r.ProductLabel += " " + a.ProductVersion
			}
			name := a.ProductName
			if name == "" {
				name = store.UnknownLabel(a.TargetID)
			}
			r.ProductHref = p.productLink(a.Tenant, a.CSP, name)
		}
		out = append(out, r)
	}
	// Newest first.
	sort.SliceStable(out, func(i, j int) bool { return out[i].FirstSeen.After(out[j].FirstSeen) })
	return out
}

// overviewBody is the data of overview.html.
type overviewBody struct {
	Totals                   totals
	RateChart, ProductsChart figure
	Products                 []productRow
	Causes                   []causeRow
	Stuck                    []stuckRow
	Buckets                  buckets
	Open                     []alertRow
	AlertsErr                string
	AlertsHref, Longer       string
	StuckAfter               string
}

func (s *server) overview(ctx context.Context, p params, l *layout) error {
	l.Page, l.Title, l.Heading, l.Action = "overview", "Fleet overview", "Fleet overview", "./"
	step := Step(p.Since)
	var (
		rep       store.Report
		outcomes  []store.OutcomeBucket
		list      []alerts.Alert
		alertsErr error
	)
	// FleetReport's window, from the same clock reading, is the page's:
	// the reads need not wait for it.
	err := parallel(ctx,
		func(ctx context.Context) (err error) {
			rep, err = s.o.Source.FleetReport(ctx, store.ReportOptions{Now: p.now, Since: p.Since, Lookback: s.o.Lookback,
				Tenant: p.Tenant, StuckAfter: s.o.StuckAfter})
			return err
		},
		func(ctx context.Context) (err error) {
			w := store.Window{From: p.from, To: p.to, Lookback: s.o.Lookback}
			outcomes, err = s.o.Source.OutcomesOverTime(ctx, w, store.AttemptFilter{Tenant: p.Tenant}, step)
			return err
		},
		func(ctx context.Context) error {
			// The open alerts, whenever they fired (the source lists
			// them whatever since); a failure other than a timeout shows
			// in place.
			list, alertsErr = s.o.Source.Alerts(ctx, p.to, p.Tenant)
			if alertsErr != nil && timedOut(ctx, alertsErr) {
				return alertsErr
			}
			return nil
		})
	if err != nil {
		return err
	}
	b := overviewBody{
		Totals:     reportTotals(rep),
		Products:   productRows(rep.Products, func(x store.ProductInstalls) string { return p.productLink(x.Tenant, x.CSP, x.Product) }),
		Causes:     causeRows(rep.Causes, p.Tenant == "", func(x store.CauseProduct) string { return p.productLink(x.Tenant, x.CSP, x.Product) }),
		Stuck:      stuckRows(rep.Stuck, p.deviceLink),
		Buckets:    bucketTable(outcomes, step, false),
		AlertsHref: p.link("alerts"),
		Longer:     p.link("", "range", "7d", "tenant", ""),
		StuckAfter: output.ShortDuration(s.o.StuckAfter),
	}
	b.RateChart = newFigure("#outcomes", fmt.Sprintf("Succeeded / finished attempts per %s.", output.ShortDuration(step)),
		"No install attempt finished in this window: is the aggregator running? Try a longer range.", func() (template.HTML, error) {
			return TimeChart("Install success rate over time", "% of finished attempts", rep.From, rep.To, 100, rateSeries(outcomes))
		})
	b.ProductsChart = newFigure("#products", "Devices by their latest attempt of each version; the table below links to each product.",
		"No product had an install attempt in this window.", func() (template.HTML, error) {
			return DevicesBarChart("Products and versions by failed devices", productBars(rep.Products, p.Tenant == ""))
		})
	if alertsErr != nil {
		b.AlertsErr = "alerts unavailable: " + alertsErr.Error()
	}
	b.Open = p.alertRows(list, alerts.Firing)
	l.Body = b
	return nil
}

// productBody is the data of product.html.
type productBody struct {
	Product                    string
	VersionsChart, CausesChart figure
	Versions                   []productRow
	Failing                    []attemptRow
	FailingLimit               int
	CauseRows                  []causeBucketRow
	Longer                     string
}

type causeBucketRow struct {
	store.CauseBucket
	Name string
}

// failingLimit bounds the product page's failing devices.
const failingLimit = 50

// maxCauseSeries bounds the causes drawn as their own line; the rest are
// summed as "other causes".
const maxCauseSeries = 5

func (s *server) product(ctx context.Context, p params, l *layout) error {
	if p.Product == "" {
		return fmt.Errorf("%w: product is required (the product's name, as the overview lists it)", errBadParam)
	}
	l.Page, l.Title, l.Heading, l.Action = "product", p.Product, p.Product, "product"
	l.Hidden = []hidden{{"product", p.Product}}
	if p.CSP != "" {
		l.Hidden = append(l.Hidden, hidden{"csp", p.CSP})
		l.Heading += " (" + event.CSPLabel(p.CSP) + ")"
	}
	w := store.Window{From: p.from, To: p.to, Lookback: s.o.Lookback}
	f := store.AttemptFilter{Tenant: p.Tenant, CSP: p.CSP, Product: p.Product, AnyVersion: true}
	step := Step(p.Since)
	var (
		versions []store.ProductInstalls
		causes   []store.CauseBucket
		failing  []store.Attempt
	)
	err := parallel(ctx,
		func(ctx context.Context) (err error) {
			versions, err = s.o.Source.ProductVersions(ctx, w, f)
			return err
		},
		func(ctx context.Context) (err error) {
			causes, err = s.o.Source.FailuresByCause(ctx, w, f, step, 0)
			return err
		},
		func(ctx context.Context) (err error) {
			failing, err = s.o.Source.FailingDevices(ctx, w, f, failingLimit)
			return err
		})
	if err != nil {
		return err
	}
	b := productBody{
		Product:      p.Product,
		Versions:     productRows(versions, nil),
		Failing:      attemptRows(failing, func(a store.Attempt) string { return p.deviceLink(a.Tenant, a.DeviceID) }, nil),
		FailingLimit: failingLimit,
		Longer:       p.link("product", "product", p.Product, "csp", p.CSP, "range", "7d"),
	}
	for _, c := range causes {
		b.CauseRows = append(b.CauseRows, causeBucketRow{CauseBucket: c, Name: codes.Classify(codes.Space(c.Space), c.Code).Name})
	}
	b.VersionsChart = newFigure("#products", "Devices per version by their latest attempt; rows in the versions table.",
		"No version of this product had an install attempt in this window.", func() (template.HTML, error) {
			return DevicesBarChart("Versions by failed devices", productBars(versions, p.Tenant == ""))
		})
	b.CausesChart = newFigure("#failures", fmt.Sprintf("Failed attempts per %s by cause; rows in the table below.", output.ShortDuration(step)),
		"No failed attempt finished in this window.", func() (template.HTML, error) {
			return TimeChart("Failures over time by cause", "failed attempts", p.from, p.to, 0, causeSeries(causes, p.from, p.to, step))
		})
	l.Body = b
	return nil
}

// causeSeries are the failed attempts per bucket of the most frequent
// causes, one series each, and of the others summed.
func causeSeries(bs []store.CauseBucket, from, to time.Time, step time.Duration) []Series {
	if len(bs) == 0 {
		return nil
	}
	type key struct {
		space string
		code  int64
	}
	total := map[key]uint64{}
	for _, b := range bs {
		total[key{b.Space, b.Code}] += b.Failed
	}
	keys := make([]key, 0, len(total))
	for k := range total {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if total[keys[i]] != total[keys[j]] {
			return total[keys[i]] > total[keys[j]]
		}
		return keys[i].space+strconv.FormatInt(keys[i].code, 10) < keys[j].space+strconv.FormatInt(keys[j].code, 10)
	})
	index := map[key]int{}
	n := min(len(keys), maxCauseSeries)
	for i, k := range keys[:n] {
		index[k] = i
	}
	other := len(keys) > n
	starts := []time.Time{}
	for t := floorTime(from, step); t.Before(to); t = t.Add(step) {
		starts = append(starts, t)
	}
	values := make([][]float64, n+1)
	for i := range values {
		values[i] = make([]float64, len(starts))
	}
	for _, b := range bs {
		i := int(b.Start.Sub(starts[0]) / step)
		if i < 0 || i >= len(starts) {
			continue
		}
		s, ok := index[key{b.Space, b.Code}]
		if !ok {
			s = n
		}
		values[s][i] += float64(b.Failed)
	}
	var out []Series
	for s := 0; s <= n; s++ {
		if s == n && !other {
			break
		}
		name := "other causes"
		if s < n {
			k := keys[s]
			name = strconv.FormatInt(k.code, 10)
			if hex := store.CauseHex(k.space, k.code); hex != "" {
				name += " (" + hex + ")"
			}
			if c := codes.Classify(codes.Space(k.space), k.code).Name; c != "" {
				name += " " + c
			}
		}
		ser := Series{Name: name}
		for i, t := range starts {
			ser.Points = append(ser.Points, Point{At: t, Value: values[s][i]})
		}
		out = append(out, ser)
	}
	return out
}

// deviceBody is the data of device.html.
type deviceBody struct {
	Tenant, Device string
	TimelineChart  figure
	Attempts       []attemptRow
	Longer         string
}

// deviceLimit bounds the attempts of the device page.
const deviceLimit = 200

func (s *server) device(ctx context.Context, p params, l *layout) error {
	if p.Tenant == "" || p.Device == "" {
		return fmt.Errorf("%w: tenant and device are required", errBadParam)
	}
	l.Page, l.Title, l.Heading, l.Action = "device", "Device "+p.Device, "Device "+p.Device, "device"
	l.Hidden = []hidden{{"device", p.Device}}
	w := store.Window{From: p.from, To: p.to, Lookback: s.o.Lookback}
	as, err := s.o.Source.Attempts(ctx, w, store.AttemptFilter{Tenant: p.Tenant, DeviceID: p.Device}, deviceLimit)
	if err != nil {
		return err
	}
	b := deviceBody{
		Tenant: p.Tenant, Device: p.Device,
		Attempts: attemptRows(as, nil, func(a store.Attempt) string { return p.productLink(a.Tenant, a.CSP, a.Product) }),
		Longer:   p.link("device", "device", p.Device, "range", "30d"),
	}
	var spans []Span
	// The chart spans the device's attempts, not the whole range, so
	// that a week's range does not squeeze a morning's attempts to a dot.
	from := p.to
	for _, a := range as {
		if a.RequestedAt.Before(from) {
			from = a.RequestedAt
		}
	}
	from = from.Add(-max(time.Hour, p.to.Sub(from)/10))
	for _, a := range as {
		end := a.LastSeen
		if !a.FinishedAt.IsZero() {
			end = a.FinishedAt
		}
		label := a.Product
		if a.Version != "" {
			label += " " + a.Version
		}
		spans = append(spans, Span{Row: label, Start: a.RequestedAt, End: end, Outcome: a.Outcome})
	}
	b.TimelineChart = newFigure("#attempts", "Each attempt from its command (or first event) to its outcome; rows in the table below.",
		"No attempt.", func() (template.HTML, error) {
			return TimelineChart("Install attempts of "+p.Device, from, p.to, spans)
		})
	l.Body = b
	return nil
}

// alertsBody is the data of alerts.html.
type alertsBody struct{ Open, Resolved []alertRow }

func (s *server) alerts(ctx context.Context, p params, l *layout) error {
	l.Page, l.Title, l.Heading, l.Action = "alerts", "Alerts", "Spike alerts", "alerts"
	// Open alerts whenever they fired; resolved ones with a transition in
	// the range.
	list, err := s.o.Source.Alerts(ctx, p.from, p.Tenant)
	if err != nil {
		return err
	}
	l.Body = alertsBody{Open: p.alertRows(list, alerts.Firing), Resolved: p.alertRows(list, alerts.Resolved)}
	return nil
}
