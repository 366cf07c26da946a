package dashboard

import (
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"html/template"
	"math"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/output"
	"github.com/cspwatch/cspwatch/internal/store"
)

//go:embed templates
var files embed.FS

// css is the pages' style sheet, written inline into every page so that a
// saved page or report needs nothing else.
var css = func() template.CSS {
	b, err := files.ReadFile("templates/style.css")
	if err != nil {
		panic(err)
	}
	return template.CSS(b) //nolint:gosec // our own embedded file
}()

// funcs are the templates' functions.
var funcs = template.FuncMap{
	// stamp writes a time as "2006-01-02 15:04:05" UTC; a zero time as "".
	"stamp": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
}

// parse is the partials and style plus the named page templates. It
// panics on an error: the templates are embedded, and a test parses them
// all.
func parse(pages ...string) *template.Template {
	names := []string{"templates/partials.html"}
	for _, p := range pages {
		names = append(names, "templates/"+p)
	}
	return template.Must(template.New(pages[0]).Funcs(funcs).ParseFS(files, names...))
}

// maxBars bounds a bar chart's bars; the table below it lists every row.
const maxBars = 12

// figure is a chart with its link to the rows behind it, or its empty
// state when Chart is empty.
type figure struct {
	Chart         template.HTML
	Href, Caption string
	Empty         string
}

// newFigure draws a chart with draw: on errNoData the figure shows empty,
// any other error is written in its place (a chart never takes the page
// down).
func newFigure(href, caption, empty string, draw func() (template.HTML, error)) figure {
	f := figure{Href: href, Caption: caption, Empty: empty}
	svg, err := draw()
	switch {
	case err == nil:
		f.Chart = svg
	case errors.Is(err, errNoData):
	default:
		f.Empty = "chart unavailable: " + err.Error()
	}
	return f
}

// totals are the headline figures of a window.
type totals struct {
	Devices, Attempts, Events, FailedDevices uint64
	SuccessRate                              string
}

func reportTotals(rep store.Report) totals {
	t := totals{Devices: rep.Devices, Attempts: rep.Attempts, Events: rep.Events}
	var ok, bad uint64
	for _, p := range rep.Products {
		t.FailedDevices += p.Failed
		ok += p.Succeeded
		bad += p.Failed
	}
	t.SuccessRate = rate(ok, bad)
	return t
}

// rate is ok/(ok+bad) as a percentage with one decimal, "–" when none
// finished.
func rate(ok, bad uint64) string {
	if ok+bad == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(ok)/float64(ok+bad))
}

// productRow is a row of the products table.
type productRow struct {
	store.ProductInstalls
	CSPShort, Rate string
	// Anchor is the row's id, Href its product page ("" in a report).
	Anchor, Href string
}

// anchor is a stable HTML id for the parts of a key.
func anchor(prefix string, parts ...string) string {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%s-%x", prefix, h.Sum64())
}

func productRows(ps []store.ProductInstalls, href func(p store.ProductInstalls) string) []productRow {
	out := make([]productRow, 0, len(ps))
	for _, p := range ps {
		r := productRow{ProductInstalls: p, CSPShort: event.CSPLabel(p.CSP), Rate: rate(p.Succeeded, p.Failed),
			Anchor: anchor("p", p.Tenant, p.CSP, p.Product, p.Version)}
		if href != nil {
			r.Href = href(p)
		}
		out = append(out, r)
	}
	return out
}

// productBars are the bars of the products chart: the first maxBars rows
// (the report's order: most failed devices first).
func productBars(ps []store.ProductInstalls, withTenant bool) []Bar {
	var bars []Bar
	for _, p := range ps {
		if len(bars) == maxBars {
			break
		}
		label := p.Product
		if p.Version != "" {
			label += " " + p.Version
		}
		if withTenant {
			label = p.Tenant + ": " + label
		}
		bars = append(bars, Bar{Label: label, Failed: float64(p.Failed), Active: float64(p.Active), Succeeded: float64(p.Succeeded)})
	}
	return bars
}

// causeRow is a row of the causes table.
type causeRow struct {
	store.Cause
	Anchor string
	Hit    []hitProduct
}

type hitProduct struct {
	Label, Href string
	Devices     uint64
}

func causeRows(cs []store.Cause, withTenant bool, href func(p store.CauseProduct) string) []causeRow {
	out := make([]causeRow, 0, len(cs))
	for _, c := range cs {
		r := causeRow{Cause: c, Anchor: anchor("c", c.Space, fmt.Sprint(c.Code))}
		for _, p := range c.Products {
			h := hitProduct{Label: p.Product, Devices: p.Devices}
			if p.Version != "" {
				h.Label += " " + p.Version
			}
			if withTenant {
				h.Label = p.Tenant + ": " + h.Label
			}
			if href != nil {
				h.Href = href(p)
			}
			r.Hit = append(r.Hit, h)
		}
		out = append(out, r)
	}
	return out
}

// stuckRow is a row of the stuck table.
type stuckRow struct {
	store.StuckAttempt
	AgeText, Href string
}

func stuckRows(ss []store.StuckAttempt, href func(tenant, device string) string) []stuckRow {
	out := make([]stuckRow, 0, len(ss))
	for _, s := range ss {
		r := stuckRow{StuckAttempt: s, AgeText: output.ShortDuration(s.Age)}
		if href != nil {
			r.Href = href(s.Tenant, s.DeviceID)
		}
		out = append(out, r)
	}
	return out
}

// bucketRow is a row behind an outcomes chart.
type bucketRow struct {
	store.OutcomeBucket
	Rate string
}

// buckets is the table behind an outcomes chart.
type buckets struct {
	Step string
	Rows []bucketRow
	Open bool
}

func bucketTable(bs []store.OutcomeBucket, step time.Duration, open bool) buckets {
	t := buckets{Step: output.ShortDuration(step), Open: open}
	for _, b := range bs {
		t.Rows = append(t.Rows, bucketRow{OutcomeBucket: b, Rate: rate(b.Succeeded, b.Failed)})
	}
	return t
}

// outcomeSeries are the failed and succeeded attempts of bs as two series.
func outcomeSeries(bs []store.OutcomeBucket) []Series {
	failed := Series{Name: "failed attempts", Color: colorFailed}
	ok := Series{Name: "succeeded attempts", Color: colorSucceeded}
	for _, b := range bs {
		failed.Points = append(failed.Points, Point{At: b.Start, Value: float64(b.Failed)})
		ok.Points = append(ok.Points, Point{At: b.Start, Value: float64(b.Succeeded)})
	}
	if allZero(failed.Points) && allZero(ok.Points) {
		return nil
	}
	return []Series{failed, ok}
}

// rateSeries is the success rate of bs in percent; a bucket where no
// attempt finished breaks the line.
func rateSeries(bs []store.OutcomeBucket) []Series {
	s := Series{Name: "success rate of finished attempts (%)", Color: colorRate}
	for _, b := range bs {
		v := math.NaN()
		if r := b.SuccessRate(); r >= 0 {
			v = 100 * r
		}
		s.Points = append(s.Points, Point{At: b.Start, Value: v})
	}
	return []Series{s}
}

func allZero(ps []Point) bool {
	for _, p := range ps {
		if p.Value != 0 {
			return false
		}
	}
	return true
}

// attemptRow is a row of an attempts table.
type attemptRow struct {
	store.Attempt
	CodeHex, CauseName      string
	DeviceHref, ProductHref string
}

func attemptRows(as []store.Attempt, device func(a store.Attempt) string, product func(a store.Attempt) string) []attemptRow {
	out := make([]attemptRow, 0, len(as))
	for _, a := range as {
		r := attemptRow{Attempt: a, CodeHex: a.CodeHex()}
		if a.CauseSpace != "" {
			r.CauseName = codes.Classify(codes.Space(a.CauseSpace), a.CauseCode).Name
		}
		if device != nil {
			r.DeviceHref = device(a)
		}
		if product != nil {
			r.ProductHref = product(a)
		}
		out = append(out, r)
	}
	return out
}

// Step picks the bucket of a chart over a window of length d: the
// smallest of 5m, 15m, 1h, 6h and 1d that keeps the chart to at most 48
// points (1d beyond 48 days).
func Step(d time.Duration) time.Duration {
	for _, s := range []time.Duration{5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour} {
		if d <= 48*s {
			return s
		}
	}
	return 24 * time.Hour
}
