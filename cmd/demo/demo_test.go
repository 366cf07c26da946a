package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

func TestConfigValidate(t *testing.T) {
	bin := t.TempDir()
	for _, b := range []string{"ingest", "aggregator", "loadgen"} {
		if err := os.WriteFile(filepath.Join(bin, b), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		ok   bool
	}{
		{"defaults", nil, nil, true},
		{"short run", []string{"--duration", "5s"}, nil, false},
		{"spike at the end", []string{"--spike-at", "1"}, nil, false},
		{"no binaries", []string{"--bin", t.TempDir()}, nil, false},
		{"env override", nil, map[string]string{"CSPWATCH_DEMO_DEVICES": "3"}, false},
		{"service env", nil, map[string]string{"CSPWATCH_CLICKHOUSE_ADDR": "ch:9000"}, true},
		{"bad env", nil, map[string]string{"CSPWATCH_DEMO_RATE": "fast"}, false},
		{"stray argument", []string{"now"}, nil, false},
		{"device messages only", []string{"--commands=false"}, nil, true},
		{"dashboard port 0", []string{"--dashboard-addr", "127.0.0.1:0"}, nil, true},
		{"dashboard without port", []string{"--dashboard-addr", "127.0.0.1"}, nil, false},
		{"no HTML report", []string{"--report-html", ""}, nil, true},
		{"HTML report in a missing directory", []string{"--report-html", "/nonexistent/cspwatch/report.html"}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			c, err := parseConfig(append([]string{"--bin", bin}, tc.args...), getenv, &bytes.Buffer{})
			if (err == nil) != tc.ok {
				t.Fatalf("parseConfig(%q, %v) = %v, want ok %v", tc.args, tc.env, err, tc.ok)
			}
			if err != nil && !errors.Is(err, errUsage) {
				t.Fatalf("error %v is not a usage error", err)
			}
			if tc.name == "service env" && c.ClickHouseAddr != "ch:9000" {
				t.Fatalf("CSPWATCH_CLICKHOUSE_ADDR not applied: %q", c.ClickHouseAddr)
			}
			if err == nil && c.Commands != (tc.name != "device messages only") {
				t.Fatalf("commands %v", c.Commands)
			}
		})
	}
	if _, err := parseConfig([]string{"-h"}, func(string) string { return "" }, &bytes.Buffer{}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
}

// ingestRoutesCommands reports whether this tree's ingest routes the
// server's messages (/v1/syncml/commands), which is being added alongside
// the demo's use of it.
func ingestRoutesCommands(t *testing.T) bool {
	t.Helper()
	files, err := filepath.Glob("../../internal/ingest/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("ingest sources: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(`HandleFunc("/v1/syncml/commands`)) {
			return true
		}
	}
	return false
}

// TestDemoEndToEnd is the whole pipeline as `make demo` runs it, smaller:
// real binaries built from this tree, Debian's clickhouse-server, ingest
// with embedded NATS, the aggregator with spike alerts, and the load
// generator with both halves of the conversation and an injected 1603
// spike. It passes only if every event on the stream reached ClickHouse,
// the report names the products (the spiked version, which its failures
// name only by ProductID, with failed devices), the alert names the
// spiking product and code, the HTML report is at the path the demo
// printed and names them too, and the dashboard answered 200 on / while
// the stack ran (the demo GETs it before printing its address).
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: builds the binaries and runs the pipeline for ~40s")
	}
	clickhousetest.Required(t)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "../ingest", "../aggregator", "../loadgen")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	reportPath := filepath.Join(t.TempDir(), "report.html")
	args := []string{"--bin", bin, "--devices", "400", "--duration", "30s", "--rate", "150",
		"--spike-at", "0.5", "--alert-bucket", "3s", "--wait", "60s",
		"--dashboard-addr", "127.0.0.1:0", "--report-html", reportPath}
	// On a ClickHouse the test is given, a database of its own (the
	// aggregator creates it), so the report and the alerts hold this run
	// only, not earlier runs' rows.
	if addr := os.Getenv(clickhousetest.EnvAddr); addr != "" {
		db := fmt.Sprintf("cspwatch_demo_test_%d", time.Now().UnixNano())
		args = append(args, "--clickhouse-database", db)
		t.Cleanup(func() { dropDatabase(t, addr, db) })
	}
	commands := ingestRoutesCommands(t)
	if !commands {
		t.Log("internal/ingest does not route /v1/syncml/commands yet: the demo sends the device messages only (--commands=false)")
		args = append(args, "--commands=false")
	}
	err := Main(ctx, args,
		func(k string) string {
			if k == "CSPWATCH_CLICKHOUSE_ADDR" {
				return os.Getenv(clickhousetest.EnvAddr)
			}
			return ""
		}, &out, &out)
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	s := out.String()
	wants := []*regexp.Regexp{
		regexp.MustCompile(`all \d+ events on the stream are in ClickHouse`),
		regexp.MustCompile(`\d+ spike alert\(s\) fired`),
		regexp.MustCompile(`Google Chrome`),
		regexp.MustCompile(`1603`),
		// The spiked version's row: devices, succeeded, then failed > 0.
		regexp.MustCompile(`Google Chrome +131\.0\.6778\.86 +\d+ +\d+ +[1-9]\d*`),
		// It is the first row: products are sorted by failed devices.
		regexp.MustCompile(`TENANT +CSP +PRODUCT .*\n\s*\S+ +MSI +Google Chrome +131\.0\.6778\.86 `),
		// The spike's cause, with both forms of its code and its advice.
		regexp.MustCompile(`(?m)^\s*1603 +0x80070643 +win32 +ERROR_INSTALL_FAILURE .*Generic MSI failure`),
	}
	if commands {
		wants = append(wants, regexp.MustCompile(`msgs \+ [1-9]\d* server msgs`))
	}
	for _, want := range wants {
		if !want.MatchString(s) {
			t.Errorf("output lacks %v", want)
		}
	}
	// The alerts are exactly the injected spike, at product and code level
	// at most, each firing or resolved: nothing on background failures.
	alertRow := regexp.MustCompile(`(?m)^\s*(firing|resolved)\s+(critical|warning)\s+(.+?)\s{2,}(\S+ \(\S+\)|\S+)\s.*$`)
	rows := alertRow.FindAllStringSubmatch(s, -1)
	if len(rows) == 0 || len(rows) > 2 {
		t.Errorf("alert rows %q: want the injected spike at product and code level at most", rows)
	}
	for _, r := range rows {
		if (r[3] != "Google Chrome 131.0.6778.86" && r[3] != "all products") || r[4] != "1603 (0x80070643)" {
			t.Errorf("alert %q is not the injected 1603 spike on Google Chrome 131.0.6778.86", r[0])
		}
	}
	if strings.Contains(s, "logs and data kept") {
		t.Error("demo kept its work directory after a successful run")
	}
	// Not a terminal: plain lines, no cursor control.
	if strings.ContainsAny(s, "\r\033") {
		t.Error("output to a buffer holds carriage returns or escape sequences")
	}

	// The dashboard answered while the stack ran, on a port of its own.
	if !regexp.MustCompile(`\] dashboard: http://127\.0\.0\.1:[1-9]\d*/ \(answered 200 on /\)\n`).MatchString(s) {
		t.Error("output lacks the dashboard's address, answered 200 on /")
	}

	// The HTML report, at the path printed, with the spike in it.
	m := regexp.MustCompile(`\] HTML report: (.+) \(\d+\.\d KB; open it in a browser\)\n`).FindStringSubmatch(s)
	if m == nil {
		t.Fatal("output lacks the HTML report's path")
	}
	if m[1] != reportPath {
		t.Errorf("HTML report printed at %q, want %q", m[1], reportPath)
	}
	html, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatalf("HTML report: %v", err)
	}
	if len(html) == 0 {
		t.Fatal("HTML report is empty")
	}
	for _, want := range []string{"<html", "Google Chrome", "131.0.6778.86", "1603"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(reportPath), ".cspwatch-report-*")); len(left) > 0 {
		t.Errorf("temporary report files left: %q", left)
	}
}

// dropDatabase drops a database the test made on a shared server. A busy
// server may take long over it: that is logged, not a failure of the demo.
func dropDatabase(t *testing.T, addr, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := clickhousetest.Open(addr, "default")
	if err == nil {
		err = conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+db+"`")
		conn.Close()
	}
	if err != nil {
		t.Logf("drop database %s on %s: %v (drop it by hand)", db, addr, err)
	}
}
