// Package dashboard draws cspwatch's pictures: the web dashboard the
// aggregator serves (Handler) and the self-contained HTML fleet report of
// `aggregator report --format html` (WriteReport).
//
// Pages are html/template templates and one style sheet embedded in the
// binary; charts are SVG drawn on the server by gonum.org/v1/plot and
// written inline. A page needs no script, no font or file beyond itself
// and no network: it works offline, saved, printed or mailed. Every value
// a page shows goes through html/template's contextual escaping, the
// charts' texts through vgsvg's.
package dashboard

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"time"

	"github.com/cspwatch/cspwatch/internal/output"
	"github.com/cspwatch/cspwatch/internal/store"
)

// Report is what WriteReport writes.
type Report struct {
	// Report is the fleet summary (store.FleetReport).
	Report store.Report
	// Tenant is the tenant reported on; empty for all.
	Tenant string
	// Outcomes are the window's attempts by the bucket they finished in
	// (store.OutcomesOverTime over store.ReportWindow(Report)), Step the
	// bucket.
	Outcomes []store.OutcomeBucket
	Step     time.Duration
	// Generated is when the report was made.
	Generated time.Time
}

// ReportStep is the bucket of a report's outcomes chart over a window of
// length d: an hour, or a day beyond 14 days (at most a few hundred
// points either way).
func ReportStep(d time.Duration) time.Duration {
	if d > 14*24*time.Hour {
		return 24 * time.Hour
	}
	return time.Hour
}

var reportTemplate = parse("report.html")

// reportPage is the data of report.html.
type reportPage struct {
	CSS                          template.CSS
	Scope                        string
	From, To, Generated          time.Time
	Lookback, StuckAfter         string
	Totals                       totals
	ProductsChart, OutcomesChart figure
	Products                     []productRow
	Causes                       []causeRow
	Stuck                        []stuckRow
	Buckets                      buckets
}

// WriteReport writes r as one self-contained HTML document: the report's
// totals, a bar chart of the products and versions by failed devices, a
// chart of failed and succeeded attempts over time, and the tables of
// products, outcomes per bucket, causes (with advice) and stuck attempts.
// Each figure is the report's own, unchanged; the tables carry them in
// data-field attributes for programs.
//
// Cost: rendering in memory (a few hundred KB for a large fleet), then
// one write to w; nothing is written when rendering fails.
func WriteReport(w io.Writer, r Report) error {
	rep := r.Report
	scope := "all tenants"
	if r.Tenant != "" {
		scope = "tenant " + r.Tenant
	}
	page := reportPage{
		CSS: css, Scope: scope, From: rep.From, To: rep.To, Generated: r.Generated,
		Lookback: output.ShortDuration(rep.Lookback), StuckAfter: output.ShortDuration(rep.StuckAfter),
		Totals:   reportTotals(rep),
		Products: productRows(rep.Products, nil),
		Causes:   causeRows(rep.Causes, r.Tenant == "", nil),
		Stuck:    stuckRows(rep.Stuck, nil),
		Buckets:  bucketTable(r.Outcomes, r.Step, false),
	}
	page.ProductsChart = newFigure("#products", "Devices by their latest attempt of each version, most failed first.",
		"No product had an install attempt in the window.", func() (template.HTML, error) {
			return DevicesBarChart("Products and versions by failed devices", productBars(rep.Products, r.Tenant == ""))
		})
	page.OutcomesChart = newFigure("#outcomes", fmt.Sprintf("Attempts by the %s they finished in.", output.ShortDuration(r.Step)),
		"No install attempt finished in the window.", func() (template.HTML, error) {
			return TimeChart("Install outcomes over time", "attempts", rep.From, rep.To, 0, outcomeSeries(r.Outcomes))
		})
	var b bytes.Buffer
	if err := reportTemplate.ExecuteTemplate(&b, "report.html", page); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	_, err := b.WriteTo(w)
	return err
}
