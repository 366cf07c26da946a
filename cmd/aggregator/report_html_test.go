package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/dashboard/knownfleet"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

// htmlRow matches a products row of the HTML report and its figures.
var (
	htmlProductRow = regexp.MustCompile(`(?s)<tr id="p-[0-9a-f]+" data-tenant="([^"]*)" data-product="([^"]*)" data-version="([^"]*)">(.*?)</tr>`)
	htmlCauseRow   = regexp.MustCompile(`(?s)<tr id="c-[0-9a-f]+" data-cause="([^"]*)">(.*?)</tr>`)
	htmlField      = regexp.MustCompile(`data-field="([a-z-]+)">([^<]*)<`)
	htmlTotal      = regexp.MustCompile(`data-total="([a-z-]+)"[^>]*>([^<]*)<`)
	htmlStuckRow   = regexp.MustCompile(`<tr data-device="([^"]*)">`)
)

// htmlFigures lists the figures of an HTML report as "key field=value"
// lines: "products contoso/Contoso VPN/2.0.1 failed=6", "total devices=13".
func htmlFigures(page string) []string {
	var out []string
	fields := func(prefix, body string) {
		for _, f := range htmlField.FindAllStringSubmatch(body, -1) {
			if f[1] == "success-rate" {
				continue
			}
			out = append(out, fmt.Sprintf("%s %s=%s", prefix, f[1], html.UnescapeString(f[2])))
		}
	}
	for _, m := range htmlProductRow.FindAllStringSubmatch(page, -1) {
		fields(fmt.Sprintf("products %s/%s/%s", html.UnescapeString(m[1]), html.UnescapeString(m[2]), html.UnescapeString(m[3])), m[4])
	}
	for _, m := range htmlCauseRow.FindAllStringSubmatch(page, -1) {
		fields("causes "+m[1], m[2])
	}
	for _, m := range htmlTotal.FindAllStringSubmatch(page, -1) {
		if m[1] == "devices" || m[1] == "attempts" || m[1] == "events" {
			out = append(out, fmt.Sprintf("total %s=%s", m[1], m[2]))
		}
	}
	for _, m := range htmlStuckRow.FindAllStringSubmatch(page, -1) {
		out = append(out, "stuck "+html.UnescapeString(m[1]))
	}
	return out
}

// jsonFigures lists the same figures from the report's JSON document.
func jsonFigures(doc reportJSON) []string {
	var out []string
	for _, p := range doc.Products {
		k := fmt.Sprintf("products %s/%s/%s", p.Tenant, p.Name, p.Version)
		out = append(out, fmt.Sprintf("%s devices=%d", k, p.Devices), fmt.Sprintf("%s failed=%d", k, p.Failed),
			fmt.Sprintf("%s active=%d", k, p.Active), fmt.Sprintf("%s succeeded=%d", k, p.Succeeded),
			fmt.Sprintf("%s attempts=%d", k, p.Attempts), fmt.Sprintf("%s failed-attempts=%d", k, p.FailedAttempts))
	}
	for _, c := range doc.Causes {
		k := fmt.Sprintf("causes %s:%d", c.CodeSpace, c.Code)
		out = append(out, fmt.Sprintf("%s devices=%d", k, c.Devices), fmt.Sprintf("%s attempts=%d", k, c.Attempts))
	}
	out = append(out, fmt.Sprintf("total devices=%d", doc.Totals.Devices), fmt.Sprintf("total attempts=%d", doc.Totals.Attempts),
		fmt.Sprintf("total events=%d", doc.Totals.Events))
	for _, s := range doc.Stuck {
		out = append(out, "stuck "+s.DeviceID)
	}
	return out
}

// `aggregator report --format html` over a known fleet in ClickHouse: every
// figure of the page equals the JSON report's, and the failing version's
// figures are the known ones.
func TestReportHTMLMatchesReport(t *testing.T) {
	db := clickhousetest.NewDB(t)
	st := db.Store(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := knownfleet.Load(ctx, st, time.Now()); err != nil {
		t.Fatal(err)
	}
	env := envFunc(map[string]string{"CSPWATCH_CLICKHOUSE_ADDR": db.Addr, "CSPWATCH_CLICKHOUSE_DATABASE": db.Database})
	for _, tenant := range []string{"", knownfleet.Tenant} {
		t.Run("tenant "+tenant, func(t *testing.T) {
			run := func(format string) string {
				var out bytes.Buffer
				args := []string{"report", "--format", format, "--since", "24h"}
				if tenant != "" {
					args = append(args, "--tenant", tenant)
				}
				if err := Main(ctx, args, env, &out, io.Discard); err != nil {
					t.Fatalf("report --format %s: %v", format, err)
				}
				return out.String()
			}
			page := run("html")
			var doc reportJSON
			if err := json.Unmarshal([]byte(run("json")), &doc); err != nil {
				t.Fatal(err)
			}
			got, want := htmlFigures(page), jsonFigures(doc)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("html figures\n%s\n\njson figures\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			failing := fmt.Sprintf("products %s/%s/%s failed=%d", knownfleet.Tenant, knownfleet.VPN, knownfleet.FailingVer, knownfleet.FailingCount)
			if !strings.Contains(strings.Join(got, "\n"), failing) {
				t.Errorf("page lacks %q", failing)
			}
			if n := strings.Count(page, `<svg class="chart"`); n != 2 {
				t.Errorf("%d charts, want 2", n)
			}
			// The outcomes table behind the chart holds every finished attempt.
			ok, bad := 0, 0
			for _, m := range regexp.MustCompile(`<tr data-bucket="[^"]*"><td>[^<]*</td><td class="num" data-field="succeeded">(\d+)</td><td class="num" data-field="failed">(\d+)</td>`).FindAllStringSubmatch(page, -1) {
				var s, f int
				fmt.Sscan(m[1], &s)
				fmt.Sscan(m[2], &f)
				ok, bad = ok+s, bad+f
			}
			wantBad := 0
			for _, p := range doc.Products {
				wantBad += int(p.FailedAttempts)
			}
			if bad != wantBad || ok == 0 {
				t.Errorf("outcomes over time: %d succeeded, %d failed; want the report's %d failed", ok, bad, wantBad)
			}
		})
	}
}

func TestParseReportConfigHTML(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr bool
	}{
		{"html", []string{"--format", "html"}, nil, false},
		{"HTML, any case", []string{"--format", " HTML "}, nil, false},
		{"html from the environment", nil, map[string]string{"CSPWATCH_FORMAT": "html"}, false},
		{"html holds every table", []string{"--format", "html", "--table", "causes"}, nil, true},
		{"unknown format names html", []string{"--format", "pdf"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			c, err := parseReportConfig(tt.args, envFunc(tt.env), &stderr)
			if tt.wantErr {
				if exitCode(err) != 2 {
					t.Fatalf("err = %v, want a usage error", err)
				}
				if tt.name == "unknown format names html" && !strings.Contains(stderr.String()+err.Error(), "html") {
					t.Errorf("error does not offer html: %v %s", err, stderr.String())
				}
				return
			}
			if err != nil || c.Format != formatHTML {
				t.Fatalf("format %q, err %v", c.Format, err)
			}
		})
	}
}

func TestParseDashboardConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(dashboardConfig) bool
		wantErr bool
	}{
		{"defaults: loopback, no token", nil, nil, func(c dashboardConfig) bool {
			return c.Dashboard.Addr == "127.0.0.1:8082" && c.Dashboard.Token == "" && c.Dashboard.QueryTimeout == 30*time.Second
		}, false},
		{"token from the environment", nil, map[string]string{"CSPWATCH_DASHBOARD_TOKEN": "s", "CSPWATCH_DASHBOARD_ADDR": "0.0.0.0:9000"},
			func(c dashboardConfig) bool { return c.Dashboard.Token == "s" && c.Dashboard.Addr == "0.0.0.0:9000" }, false},
		{"bad address", []string{"--dashboard-addr", "nope"}, nil, nil, true},
		{"empty address", []string{"--dashboard-addr", ""}, nil, nil, true},
		{"no timeout", []string{"--dashboard-query-timeout", "0s"}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseDashboardConfig(tt.args, envFunc(tt.env), io.Discard)
			if tt.wantErr {
				if exitCode(err) != 2 {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

// `aggregator run` serves no dashboard unless --dashboard-addr is given.
func TestRunConfigDashboard(t *testing.T) {
	c, err := parseRunConfig(nil, envFunc(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Dashboard.Addr != "" {
		t.Errorf("dashboard on by default: %q", c.Dashboard.Addr)
	}
	c, err = parseRunConfig(nil, envFunc(map[string]string{"CSPWATCH_DASHBOARD_ADDR": "127.0.0.1:0"}), io.Discard)
	if err != nil || c.Dashboard.Addr != "127.0.0.1:0" {
		t.Errorf("addr %q, err %v", c.Dashboard.Addr, err)
	}
	if _, err := parseRunConfig([]string{"--dashboard-addr", "x"}, envFunc(nil), io.Discard); exitCode(err) != 2 {
		t.Errorf("bad dashboard addr: %v", err)
	}
}

// `aggregator dashboard` serves the pages read-only from ClickHouse until
// its context ends.
func TestDashboardCommand(t *testing.T) {
	db := clickhousetest.NewDB(t)
	st := db.Store(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := knownfleet.Load(ctx, st, time.Now()); err != nil {
		t.Fatal(err)
	}
	env := envFunc(map[string]string{"CSPWATCH_CLICKHOUSE_ADDR": db.Addr, "CSPWATCH_CLICKHOUSE_DATABASE": db.Database,
		"CSPWATCH_DASHBOARD_ADDR": "127.0.0.1:0", "CSPWATCH_DASHBOARD_TOKEN": "tok"})
	runCtx, stop := context.WithCancel(ctx)
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- Main(runCtx, []string{"dashboard"}, env, out, io.Discard) }()
	var base string
	for base == "" {
		select {
		case err := <-done:
			t.Fatalf("dashboard stopped: %v", err)
		case <-ctx.Done():
			t.Fatal("dashboard did not print its address")
		case <-time.After(20 * time.Millisecond):
		}
		if _, rest, ok := strings.Cut(out.String(), "dashboard listening on "); ok {
			base = strings.TrimSpace(rest)
		}
	}
	tests := []struct {
		path, token string
		status      int
		want        string
	}{
		{"", "", 401, ""},
		{"", "tok", 200, knownfleet.VPN},
		{"product?tenant=contoso&product=" + strings.ReplaceAll(knownfleet.VPN, " ", "+"), "tok", 200, `data-field="failed">6<`},
		{"alerts", "tok", 200, knownfleet.OpenAlertID},
		{"device", "tok", 400, ""},
	}
	for _, tt := range tests {
		t.Run("/"+tt.path, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx, "GET", base+tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("status %d (want %d), page lacks %q", resp.StatusCode, tt.status, tt.want)
			}
		})
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("dashboard: %v", err)
	}
}
