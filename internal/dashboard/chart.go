package dashboard

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Charts are drawn on the server by gonum.org/v1/plot into SVG (its vgsvg
// canvas) and written inline into the page: no JavaScript, no request
// beyond the page, the same picture in the dashboard and in a report file
// kept for years. vgsvg escapes every text it draws (html.EscapeString),
// which is what lets a chart enter a page as template.HTML; a test keeps
// it so.

// Colours of outcomes, shared by charts and CSS (style.css).
var (
	colorFailed    = color.RGBA{R: 0xc0, G: 0x39, B: 0x2b, A: 0xff}
	colorSucceeded = color.RGBA{R: 0x2e, G: 0x8b, B: 0x57, A: 0xff}
	colorActive    = color.RGBA{R: 0xe0, G: 0xa0, B: 0x30, A: 0xff}
	colorRate      = color.RGBA{R: 0x1f, G: 0x5f, B: 0xa8, A: 0xff}
	// palette colours the series of a chart with more than the outcomes
	// (failures by cause).
	palette = []color.Color{
		colorFailed, colorRate, colorActive, color.RGBA{R: 0x6c, G: 0x3a, B: 0x9c, A: 0xff},
		color.RGBA{R: 0x16, G: 0x8a, B: 0x8a, A: 0xff}, color.RGBA{R: 0x80, G: 0x80, B: 0x80, A: 0xff},
	}
)

// sansFont is the charts' font: Liberation Sans, which gonum/plot carries
// to measure text; the SVG names it with fallbacks (see inlineSVG).
var sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// newPlot is a plot with the charts' title, fonts and sizes.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sansFont, 12)
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sansFont, 10)
		a.Tick.Label.Font = font.From(sansFont, 9)
	}
	p.Legend.TextStyle.Font = font.From(sansFont, 9)
	p.Legend.Top = true
	p.Legend.Left = true
	return p
}

// inlineSVG renders p as an SVG element of w by h points for an HTML page:
// the XML prologue is dropped, the element scales with its container
// (viewBox kept, width and height left to CSS) and is labelled for screen
// readers with label.
func inlineSVG(p *plot.Plot, w, h vg.Length, label string) (template.HTML, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", fmt.Errorf("chart %q: %w", label, err)
	}
	s := b.String()
	i := strings.Index(s, "<svg")
	if i < 0 {
		return "", fmt.Errorf("chart %q: no svg element", label)
	}
	s = s[i:]
	// The width and height attributes in points are replaced by CSS
	// (svg.chart); the viewBox keeps the proportions.
	if j := strings.Index(s, "viewBox="); j > 0 {
		s = `<svg class="chart" role="img" aria-label="` + template.HTMLEscapeString(label) + `" ` + s[j:]
	}
	s = strings.ReplaceAll(s, "font-family:Liberation Sans;", "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")
	return template.HTML(s), nil //nolint:gosec // vgsvg escapes every text it writes; see TestChartEscapes
}

// Bar is one bar of a stacked horizontal bar chart of devices.
type Bar struct {
	Label                     string
	Failed, Active, Succeeded float64
}

// errNoData is returned by a chart with nothing to draw: the page shows its
// empty state instead.
var errNoData = errors.New("no data")

// DevicesBarChart draws bars, one per row, top to bottom in the order
// given, each split into failed, active and succeeded devices.
//
// Cost: proportional to len(bars); the caller bounds it (the pages draw at
// most maxBars).
func DevicesBarChart(title string, bars []Bar) (template.HTML, error) {
	if len(bars) == 0 {
		return "", errNoData
	}
	n := len(bars)
	failed, active, ok := make(plotter.Values, n), make(plotter.Values, n), make(plotter.Values, n)
	labels := make([]string, n)
	for i, b := range bars {
		// NominalY puts the first name at the bottom: reverse, so that the
		// first bar is on top, as in the table below the chart.
		j := n - 1 - i
		failed[j], active[j], ok[j] = b.Failed, b.Active, b.Succeeded
		labels[j] = shorten(b.Label, 42)
	}
	p := newPlot(title, "devices", "")
	const width = 12
	var stack *plotter.BarChart
	for _, s := range []struct {
		name string
		v    plotter.Values
		c    color.Color
	}{{"failed", failed, colorFailed}, {"active", active, colorActive}, {"succeeded", ok, colorSucceeded}} {
		bc, err := plotter.NewBarChart(s.v, width)
		if err != nil {
			return "", fmt.Errorf("chart %q: %w", title, err)
		}
		bc.Horizontal = true
		bc.Color = s.c
		bc.LineStyle.Width = 0
		if stack != nil {
			bc.StackOn(stack)
		}
		stack = bc
		p.Add(bc)
		p.Legend.Add(s.name, bc)
	}
	p.Legend.Top, p.Legend.Left = true, false
	p.NominalY(labels...)
	// Room on the right for the legend.
	top := 0.0
	for _, b := range bars {
		top = math.Max(top, b.Failed+b.Active+b.Succeeded)
	}
	p.X.Min, p.X.Max = 0, math.Ceil(top*1.35)+1
	p.X.Tick.Marker = integerTicks{}
	p.Add(plotter.NewGrid())
	return inlineSVG(p, 560, vg.Length(70+20*n), title)
}

// Point is one value of a time series.
type Point struct {
	At    time.Time
	Value float64
}

// Series is one line of a time chart; a NaN value breaks the line (a
// bucket with nothing to measure, such as a success rate of no install).
type Series struct {
	Name   string
	Color  color.Color
	Points []Point
}

// TimeChart draws series over time, from..to on the x axis, as lines with
// a dot per point. yMax > 0 fixes the top of the y axis (100 for a
// percentage); yLabel names its unit.
//
// Cost: proportional to the points.
func TimeChart(title, yLabel string, from, to time.Time, yMax float64, series []Series) (template.HTML, error) {
	hasData := false
	for _, s := range series {
		for _, pt := range s.Points {
			if !math.IsNaN(pt.Value) {
				hasData = true
			}
		}
	}
	if !hasData {
		return "", errNoData
	}
	p := newPlot(title, "time (UTC)", yLabel)
	p.X.Min, p.X.Max = float64(from.Unix()), float64(to.Unix())
	p.X.Tick.Marker = timeTicks{}
	p.Y.Min = 0
	if yMax > 0 {
		p.Y.Max = yMax
	} else {
		p.Y.Tick.Marker = integerTicks{}
	}
	p.Add(plotter.NewGrid())
	for i, s := range series {
		c := s.Color
		if c == nil {
			c = palette[i%len(palette)]
		}
		// One line per run of values between NaNs.
		var run plotter.XYs
		flush := func() error {
			if len(run) == 0 {
				return nil
			}
			l, pts, err := plotter.NewLinePoints(run)
			if err != nil {
				return fmt.Errorf("chart %q: %w", title, err)
			}
			l.Color, l.Width = c, vg.Points(1.5)
			pts.Color, pts.Radius = c, vg.Points(1.5)
			p.Add(l, pts)
			run = nil
			return nil
		}
		for _, pt := range s.Points {
			if math.IsNaN(pt.Value) {
				if err := flush(); err != nil {
					return "", err
				}
				continue
			}
			run = append(run, plotter.XY{X: float64(pt.At.Unix()), Y: pt.Value})
		}
		if err := flush(); err != nil {
			return "", err
		}
		sw, err := plotter.NewLine(plotter.XYs{{}})
		if err != nil {
			return "", fmt.Errorf("chart %q: %w", title, err)
		}
		sw.Color, sw.Width = c, vg.Points(3)
		p.Legend.Add(s.Name, sw)
	}
	return inlineSVG(p, 560, 240, title)
}

// Span is one bar of a timeline: from Start to End on the row Row, in the
// colour of its outcome.
type Span struct {
	Row        string
	Start, End time.Time
	Outcome    string
}

// TimelineChart draws spans on rows (a device's attempts, one row per
// product), from..to on the x axis; a span shorter than a pixel is drawn
// as a dot.
//
// Cost: proportional to the spans.
func TimelineChart(title string, from, to time.Time, spans []Span) (template.HTML, error) {
	if len(spans) == 0 {
		return "", errNoData
	}
	var rows []string
	index := map[string]int{}
	for _, s := range spans {
		if _, ok := index[s.Row]; !ok {
			index[s.Row] = len(rows)
			rows = append(rows, s.Row)
		}
	}
	n := len(rows)
	p := newPlot(title, "time (UTC)", "")
	p.X.Min, p.X.Max = float64(from.Unix()), float64(to.Unix())
	p.X.Tick.Marker = timeTicks{}
	p.Add(plotter.NewGrid())
	seen := map[string]bool{}
	for _, s := range spans {
		y := float64(n - 1 - index[s.Row])
		c := outcomeColor(s.Outcome)
		l, pts, err := plotter.NewLinePoints(plotter.XYs{{X: float64(s.Start.Unix()), Y: y}, {X: float64(s.End.Unix()), Y: y}})
		if err != nil {
			return "", fmt.Errorf("chart %q: %w", title, err)
		}
		l.Color, l.Width = c, vg.Points(6)
		pts.Color, pts.Radius, pts.Shape = c, vg.Points(3.5), draw.CircleGlyph{}
		p.Add(l, pts)
		if !seen[s.Outcome] {
			seen[s.Outcome] = true
			p.Legend.Add(s.Outcome, pts)
		}
	}
	labels := make([]string, n)
	for i, r := range rows {
		labels[n-1-i] = shorten(r, 36)
	}
	p.NominalY(labels...)
	p.Legend.Top, p.Legend.Left = false, false
	return inlineSVG(p, 560, vg.Length(80+26*n), title)
}

// outcomeColor is the colour of an attempt outcome.
func outcomeColor(outcome string) color.Color {
	switch outcome {
	case "succeeded":
		return colorSucceeded
	case "failed":
		return colorFailed
	case "unknown":
		return palette[5]
	}
	return colorActive
}

// timeTicks marks round times in UTC (every 5 minutes up to every
// week, whichever gives at most eight labels), labelled by clock time, by
// day and hour, or by day as the window grows.
type timeTicks struct{}

// Ticks implements plot.Ticker.
func (timeTicks) Ticks(lo, hi float64) []plot.Tick {
	span := time.Duration(hi-lo) * time.Second
	step := 7 * 24 * time.Hour
	for _, s := range []time.Duration{5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour,
		6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 2 * 24 * time.Hour} {
		if span/s <= 8 {
			step = s
			break
		}
	}
	format := "15:04"
	switch {
	case step >= 24*time.Hour:
		format = "Jan 2"
	case span > 24*time.Hour:
		format = "Jan 2 15h"
	}
	var ts []plot.Tick
	for t := floorTime(time.Unix(int64(math.Ceil(lo)), 0), step); float64(t.Unix()) <= hi; t = t.Add(step) {
		if float64(t.Unix()) >= lo {
			ts = append(ts, plot.Tick{Value: float64(t.Unix()), Label: t.Format(format)})
		}
	}
	return ts
}

// floorTime is t floored to a multiple of d since the Unix epoch, in UTC.
func floorTime(t time.Time, d time.Duration) time.Time {
	sec := int64(d / time.Second)
	u := t.Unix()
	return time.Unix(u-((u%sec)+sec)%sec, 0).UTC()
}

// shorten cuts s to at most n runes, marking the cut with "…".
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// integerTicks marks whole numbers only (counts of devices or attempts),
// at most about six of them.
type integerTicks struct{}

// Ticks implements plot.Ticker.
func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	if hi < 1 {
		hi = 1
	}
	step := math.Max(1, math.Ceil((hi-lo)/6))
	// Round the step to 1, 2 or 5 times a power of ten.
	mag := math.Pow(10, math.Floor(math.Log10(step)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= step {
			step = m * mag
			break
		}
	}
	var ts []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: fmt.Sprint(v)})
	}
	return ts
}
