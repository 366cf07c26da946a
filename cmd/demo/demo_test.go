package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/clickhousetest"
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
		})
	}
	if _, err := parseConfig([]string{"-h"}, func(string) string { return "" }, &bytes.Buffer{}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
}

// TestDemoEndToEnd is the whole pipeline as `make demo` runs it, smaller:
// real binaries built from this tree, Debian's clickhouse-server, ingest
// with embedded NATS, the aggregator with spike alerts, and the load
// generator with an injected 1603 spike. It passes only if every event on
// the stream reached ClickHouse, the report names the products, and the
// alert names the spiking product and code.
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
	err := Main(ctx, []string{"--bin", bin, "--devices", "400", "--duration", "30s", "--rate", "150",
		"--spike-at", "0.5", "--alert-bucket", "3s", "--wait", "60s"},
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
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`all \d+ events on the stream are in ClickHouse`),
		regexp.MustCompile(`\d+ spike alert\(s\) fired`),
		regexp.MustCompile(`Google Chrome`),
		regexp.MustCompile(`1603`),
	} {
		if !want.MatchString(s) {
			t.Errorf("output lacks %v", want)
		}
	}
	if strings.Contains(s, "logs and data kept") {
		t.Error("demo kept its work directory after a successful run")
	}
}
