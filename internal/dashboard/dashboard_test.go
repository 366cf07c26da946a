package dashboard_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/dashboard"
	"github.com/cspwatch/cspwatch/internal/store"
)

// hostile is a name a device could send: it must show as text everywhere.
const hostile = `<script>alert("x")</script> & 'q'`

var fixedTo = time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)

// fixedReport is a report with every table filled and a hostile product
// name.
func fixedReport() store.Report {
	to := fixedTo
	return store.Report{
		From: to.Add(-24 * time.Hour), To: to, Lookback: store.DefaultReportLookback, StuckAfter: 4 * time.Hour,
		Devices: 12, Attempts: 15, Events: 40,
		Products: []store.ProductInstalls{
			{Tenant: "t1", CSP: "EnterpriseDesktopAppManagement", Product: "Contoso VPN", Version: "2.0.1", TargetID: "VPN",
				Devices: 8, Succeeded: 1, Failed: 6, Active: 1, Attempts: 9, FailedAttempts: 7},
			{Tenant: "t1", CSP: "EnterpriseDesktopAppManagement", Product: hostile, Version: "1.0", TargetID: "H",
				Devices: 4, Succeeded: 4, Attempts: 4},
		},
		Causes: []store.Cause{{Space: "win32", Code: 1603, CodeHex: "0x80070643", Name: "ERROR_INSTALL_FAILURE",
			Category: "installer", Advice: "Read the MSI log.", Devices: 6, Attempts: 7,
			Products: []store.CauseProduct{{Tenant: "t1", CSP: "EnterpriseDesktopAppManagement", TargetID: "VPN",
				Product: "Contoso VPN", Version: "2.0.1", Devices: 6, Attempts: 7}}}},
		Stuck: []store.StuckAttempt{{Tenant: "t1", DeviceID: "d13", CSP: "EnterpriseDesktopAppManagement", TargetID: "VPN",
			Product: "Contoso VPN", Version: "2.0.1", Outcome: "in_progress", HasCommand: true,
			RequestedAt: to.Add(-6 * time.Hour), LastSeen: to.Add(-5 * time.Hour), Age: 6 * time.Hour}},
	}
}

func fixedOutcomes(from, to time.Time, step time.Duration) []store.OutcomeBucket {
	var out []store.OutcomeBucket
	for t := from.Truncate(step); t.Before(to); t = t.Add(step) {
		out = append(out, store.OutcomeBucket{Start: t})
	}
	if len(out) > 10 {
		out[3].Succeeded, out[10].Failed, out[10].Succeeded = 5, 7, 1
	}
	return out
}

var (
	dataField = regexp.MustCompile(`data-field="([a-z-]+)">([^<]*)<`)
	chartTag  = `<svg class="chart"`
)

// checkSelfContained fails when page could fetch or run anything: no
// script, no external reference, balanced structure.
func checkSelfContained(t *testing.T, page string) {
	t.Helper()
	lower := strings.ToLower(page)
	for _, bad := range []string{"<script", "javascript:", " src=", "@import", "url(", "<link rel=\"stylesheet\"", "<iframe", "<object"} {
		if strings.Contains(lower, bad) {
			t.Errorf("page holds %q", bad)
		}
	}
	// The only absolute URLs are SVG's namespaces, which fetch nothing.
	rest := strings.NewReplacer(`"http://www.w3.org/2000/svg"`, "", `"http://www.w3.org/1999/xlink"`, "").Replace(page)
	if i := strings.Index(rest, "http"); i >= 0 {
		t.Errorf("page refers to %q", rest[i:min(len(rest), i+60)])
	}
	for _, tag := range []string{"table", "tr", "svg", "figure", "section", "main", "body", "html", "details", "a"} {
		open := len(regexp.MustCompile(`<`+tag+`[\s>]`).FindAllStringIndex(page, -1))
		if closed := strings.Count(page, "</"+tag+">"); open != closed {
			t.Errorf("<%s> opened %d times, closed %d", tag, open, closed)
		}
	}
}

// TestWriteReport checks the HTML report's structure: self-contained, two
// inline charts linking to their rows, every table, the report's figures
// unchanged in the cells, and a hostile name escaped in table and chart.
func TestWriteReport(t *testing.T) {
	rep := fixedReport()
	var b bytes.Buffer
	err := dashboard.WriteReport(&b, dashboard.Report{Report: rep, Tenant: "t1", Step: time.Hour,
		Outcomes: fixedOutcomes(rep.From, rep.To, time.Hour), Generated: fixedTo})
	if err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !strings.HasPrefix(page, "<!doctype html>") {
		t.Errorf("page starts %q", page[:20])
	}
	checkSelfContained(t, page)
	tests := []struct {
		name string
		ok   func() bool
	}{
		{"two charts", func() bool { return strings.Count(page, chartTag) == 2 }},
		{"charts link to their rows", func() bool {
			return strings.Contains(page, `<a class="chart-link" href="#products"`) && strings.Contains(page, `<a class="chart-link" href="#outcomes"`)
		}},
		{"every table", func() bool {
			for _, id := range []string{`id="products"`, `id="causes"`, `id="stuck"`, `id="outcomes"`} {
				if !strings.Contains(page, id) {
					return false
				}
			}
			return true
		}},
		{"hostile name escaped", func() bool {
			return !strings.Contains(page, "<script") && strings.Count(page, "&lt;script&gt;") >= 2 // table and chart
		}},
		{"advice", func() bool { return strings.Contains(page, "Read the MSI log.") }},
		{"window", func() bool { return strings.Contains(page, "2026-11-22 15:00:00 to 2026-11-23 15:00:00") }},
		{"totals", func() bool {
			return strings.Contains(page, `data-total="devices">12<`) && strings.Contains(page, `data-total="failed-devices" class="failed">6<`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok() {
				t.Error("not so")
			}
		})
	}
	t.Run("figures are the report's", func(t *testing.T) {
		var got []string
		for _, m := range dataField.FindAllStringSubmatch(page, -1) {
			got = append(got, m[1]+"="+m[2])
		}
		p := rep.Products[0]
		want := fmt.Sprintf("devices=%d failed=%d active=%d succeeded=%d success-rate=14.3%% attempts=%d failed-attempts=%d",
			p.Devices, p.Failed, p.Active, p.Succeeded, p.Attempts, p.FailedAttempts)
		if s := strings.Join(got, " "); !strings.HasPrefix(s, want) {
			t.Errorf("first product's cells %q, want %q", s, want)
		}
		if !strings.Contains(strings.Join(got, " "), "devices=6 attempts=7") {
			t.Errorf("cause cells %q", got)
		}
	})
}

// An empty window says so, and what to do, instead of drawing charts.
func TestWriteReportEmpty(t *testing.T) {
	rep := store.Report{From: fixedTo.Add(-time.Hour), To: fixedTo, Lookback: time.Hour, StuckAfter: time.Hour}
	var b bytes.Buffer
	if err := dashboard.WriteReport(&b, dashboard.Report{Report: rep, Step: time.Hour, Outcomes: fixedOutcomes(rep.From, rep.To, time.Hour)}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	checkSelfContained(t, page)
	if strings.Contains(page, chartTag) || !strings.Contains(page, "Is the aggregator running") || !strings.Contains(page, "--since") {
		t.Errorf("empty report:\n%s", page)
	}
}

// vgsvg escapes what a chart writes: the chart is trusted as HTML.
func TestChartEscapes(t *testing.T) {
	charts := []struct {
		name string
		draw func() (string, error)
	}{
		{"bars", func() (string, error) {
			s, err := dashboard.DevicesBarChart(hostile, []dashboard.Bar{{Label: hostile, Failed: 1}})
			return string(s), err
		}},
		{"time", func() (string, error) {
			s, err := dashboard.TimeChart(hostile, hostile, fixedTo.Add(-time.Hour), fixedTo, 0,
				[]dashboard.Series{{Name: hostile, Points: []dashboard.Point{{At: fixedTo.Add(-time.Minute), Value: 2}}}})
			return string(s), err
		}},
		{"timeline", func() (string, error) {
			s, err := dashboard.TimelineChart(hostile, fixedTo.Add(-time.Hour), fixedTo,
				[]dashboard.Span{{Row: hostile, Start: fixedTo.Add(-time.Hour), End: fixedTo, Outcome: "failed"}})
			return string(s), err
		}},
	}
	for _, c := range charts {
		t.Run(c.name, func(t *testing.T) {
			s, err := c.draw()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s, chartTag) || strings.Contains(s, "<script") || strings.Contains(s, "<?xml") {
				t.Errorf("chart:\n%s", s[:min(len(s), 400)])
			}
		})
	}
}

// fakeSource serves fixed figures and records the filters it was asked.
type fakeSource struct {
	failAlerts bool
	slow       bool
	// fleetErr, failingErr and alertsErr, when set, are the answers of
	// FleetReport, FailingDevices and Alerts, given the read's context.
	fleetErr, failingErr, alertsErr func(ctx context.Context) error
	mu                              sync.Mutex
	asked                           []string
}

func (f *fakeSource) ask(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, s)
}

func (f *fakeSource) FleetReport(ctx context.Context, o store.ReportOptions) (store.Report, error) {
	if f.slow {
		<-ctx.Done()
		return store.Report{}, ctx.Err()
	}
	if f.fleetErr != nil {
		return store.Report{}, f.fleetErr(ctx)
	}
	f.ask("report tenant=" + o.Tenant)
	rep := fixedReport()
	rep.From, rep.To = o.Now.Add(-o.Since), o.Now
	return rep, nil
}

func (f *fakeSource) OutcomesOverTime(_ context.Context, w store.Window, _ store.AttemptFilter, step time.Duration) ([]store.OutcomeBucket, error) {
	return fixedOutcomes(w.From, w.To, step), nil
}

func (f *fakeSource) FailuresByCause(_ context.Context, w store.Window, _ store.AttemptFilter, step time.Duration, _ int) ([]store.CauseBucket, error) {
	return []store.CauseBucket{{Start: w.From.Truncate(step).Add(step), Space: "win32", Code: 1603, Failed: 6}}, nil
}

func (f *fakeSource) ProductVersions(_ context.Context, _ store.Window, flt store.AttemptFilter) ([]store.ProductInstalls, error) {
	f.ask("versions product=" + flt.Product)
	if flt.Product == "none" {
		return []store.ProductInstalls{}, nil
	}
	return fixedReport().Products[:1], nil
}

func (f *fakeSource) FailingDevices(ctx context.Context, _ store.Window, _ store.AttemptFilter, _ int) ([]store.Attempt, error) {
	if f.failingErr != nil {
		return nil, f.failingErr(ctx)
	}
	return []store.Attempt{{Tenant: "t1", DeviceID: hostile, Product: "Contoso VPN", Version: "2.0.1", Outcome: "failed",
		CauseSpace: "win32", CauseCode: 1603, RequestedAt: fixedTo.Add(-time.Hour), LastSeen: fixedTo}}, nil
}

func (f *fakeSource) Attempts(_ context.Context, _ store.Window, flt store.AttemptFilter, _ int) ([]store.Attempt, error) {
	if flt.DeviceID == "none" {
		return []store.Attempt{}, nil
	}
	return f.FailingDevices(context.Background(), store.Window{}, flt, 0)
}

func (f *fakeSource) Tenants(context.Context, store.Window) ([]string, error) {
	return []string{"t1", "t2"}, nil
}

func (f *fakeSource) Alerts(ctx context.Context, _ time.Time, _ string) ([]alerts.Alert, error) {
	if f.alertsErr != nil {
		return nil, f.alertsErr(ctx)
	}
	if f.failAlerts {
		return nil, errors.New("no alerts table")
	}
	return []alerts.Alert{{ID: "a1", Status: alerts.Firing, Level: alerts.LevelProduct, Tenant: "t1", ProductName: "Contoso VPN",
		ProductVersion: "2.0.1", Code: 1603, FirstSeen: fixedTo.Add(-time.Hour)}}, nil
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(body)
}

// TestHandler checks each page's status, content, escaping and empty
// state, and the refusal of bad parameters, over a fake source.
func TestHandler(t *testing.T) {
	src := &fakeSource{}
	h, err := dashboard.New(dashboard.Options{Source: src, Now: func() time.Time { return fixedTo }})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, target string
		status               int
		want, notWant        []string
	}{
		{"overview", "GET", "/", 200, []string{chartTag, `id="products"`, `href="product?csp=EnterpriseDesktopAppManagement&amp;product=Contoso&#43;VPN&amp;tenant=t1"`,
			`data-alert="a1"`, "Read the MSI log.", `<option value="t2">t2</option>`}, []string{"<script"}},
		{"overview of a tenant and range", "GET", "/?tenant=t1&range=7d", 200, []string{`<option value="t1" selected>t1</option>`, `<option value="7d" selected>`}, nil},
		{"a hostile tenant is text", "GET", "/?tenant=" + "%3Cscript%3E", 200, []string{"&lt;script&gt;"}, []string{"<script"}},
		{"custom range", "GET", "/?range=3h", 200, []string{`<option value="3h" selected>last 3h</option>`}, nil},
		{"product", "GET", "/product?product=Contoso+VPN&tenant=t1", 200, []string{"<h1>Contoso VPN</h1>", `data-field="failed">6<`, "&lt;script&gt;", `id="failures"`, chartTag}, []string{"<script"}},
		{"product with nothing", "GET", "/product?product=none", 200, []string{`id="empty"`, "Try a longer range", "range=7d"}, nil},
		{"device", "GET", "/device?tenant=t1&device=d06", 200, []string{"Device d06", `id="attempts"`, chartTag}, nil},
		{"device with nothing", "GET", "/device?tenant=t1&device=none", 200, []string{`id="empty"`, "range=30d"}, []string{chartTag}},
		{"alerts", "GET", "/alerts", 200, []string{`data-alert="a1"`, "No alert resolved in this window"}, nil},
		{"head", "HEAD", "/", 200, nil, nil},
		{"product without a name", "GET", "/product", 400, []string{"product is required"}, nil},
		{"device without a tenant", "GET", "/device?device=d06", 400, []string{"tenant and device are required"}, nil},
		{"bad range", "GET", "/?range=soon", 400, []string{"range"}, nil},
		{"range too long", "GET", "/?range=365d", 400, []string{"between 5m and 90d"}, nil},
		{"range too short", "GET", "/?range=1s", 400, nil, nil},
		{"repeated parameter", "GET", "/?tenant=a&tenant=b", 400, []string{"tenant given 2 times"}, nil},
		{"control character", "GET", "/?tenant=a%00b", 400, nil, nil},
		{"too long", "GET", "/?tenant=" + strings.Repeat("x", 300), 400, nil, nil},
		{"unknown page", "GET", "/etc/passwd", 404, []string{"no page"}, nil},
		{"post", "POST", "/", 405, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, h, tt.method, tt.target, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tt.status, body)
			}
			if tt.status != 405 && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Errorf("no content security policy: %v", resp.Header)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(body, w) {
					t.Errorf("page holds %q", w)
				}
			}
			if tt.status == 200 && tt.method == "GET" {
				checkSelfContained(t, body)
			}
		})
	}
}

// A read that fails shows where it failed: the alerts on the overview in
// place; a read past the timeout is 504.
func TestHandlerFailures(t *testing.T) {
	t.Run("alerts unavailable", func(t *testing.T) {
		h, _ := dashboard.New(dashboard.Options{Source: &fakeSource{failAlerts: true}, Now: func() time.Time { return fixedTo }})
		resp, body := get(t, h, "GET", "/", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, "alerts unavailable: no alerts table") {
			t.Errorf("status %d\n%s", resp.StatusCode, body)
		}
		if resp, _ := get(t, h, "GET", "/alerts", nil); resp.StatusCode != 500 {
			t.Errorf("alerts page: status %d, want 500", resp.StatusCode)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		h, _ := dashboard.New(dashboard.Options{Source: &fakeSource{slow: true}, QueryTimeout: 50 * time.Millisecond})
		resp, body := get(t, h, "GET", "/", nil)
		if resp.StatusCode != 504 || !strings.Contains(body, "try a shorter range") {
			t.Errorf("status %d\n%s", resp.StatusCode, body)
		}
	})
}

// With a token, every page needs it, as a bearer token or a basic
// authentication password.
func TestHandlerToken(t *testing.T) {
	h, err := dashboard.New(dashboard.Options{Source: &fakeSource{}, Token: "t0ken", Now: func() time.Time { return fixedTo }})
	if err != nil {
		t.Fatal(err)
	}
	basic := func(user, pw string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.SetBasicAuth(user, pw)
		return r.Header.Get("Authorization")
	}
	tests := []struct {
		name, auth string
		status     int
	}{
		{"none", "", 401},
		{"bearer", "Bearer t0ken", 200},
		{"wrong bearer", "Bearer t0ke", 401},
		{"longer bearer", "Bearer t0ken0", 401},
		{"basic password", basic("anyone", "t0ken"), 200},
		{"basic wrong", basic("t0ken", "x"), 401},
		{"other scheme", "Token t0ken", 401},
		{"lower-case bearer", "bearer t0ken", 200},
		{"upper-case bearer", "BEARER t0ken", 200},
		{"mixed-case bearer", "bEaReR t0ken", 200},
		{"bearer without a token", "bearer", 401},
		{"bearer glued to the token", "bearert0ken", 401},
		{"lower-case wrong bearer", "bearer t0ke", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, h, "GET", "/alerts", map[string]string{"Authorization": tt.auth})
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 401 && (!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") || strings.Contains(body, "t0ken")) {
				t.Errorf("401 without a basic challenge, or telling the token: %v %q", resp.Header, body)
			}
		})
	}
	if _, err := dashboard.New(dashboard.Options{}); err == nil {
		t.Error("a handler without a source")
	}
}

func TestStep(t *testing.T) {
	tests := []struct{ window, want time.Duration }{
		{time.Hour, 5 * time.Minute},
		{6 * time.Hour, 15 * time.Minute},
		{24 * time.Hour, time.Hour},
		{7 * 24 * time.Hour, 6 * time.Hour},
		{30 * 24 * time.Hour, 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.window.String(), func(t *testing.T) {
			if got := dashboard.Step(tt.window); got != tt.want {
				t.Errorf("Step(%v) = %v, want %v", tt.window, got, tt.want)
			}
		})
	}
}
