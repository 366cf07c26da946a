package main

import (
	"bytes"
	"errors"
	"flag"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/testkit/compose"
)

// TestComposeService checks that docker-compose.yml's aggregator service
// runs a command this binary has, with settings it accepts: every
// CSPWATCH_ variable names a flag of `aggregator run` (unknown ones would be
// ignored silently), ClickHouse is the clickhouse service with the
// credentials that service creates, and the health check probes the port
// it listens on.
func TestComposeService(t *testing.T) {
	f, err := compose.Load(filepath.Join("..", "..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := f.Services()
	if err != nil {
		t.Fatal(err)
	}
	s, ok := svcs["aggregator"]
	if !ok {
		t.Fatal("no aggregator service")
	}
	if len(s.Entrypoint) != 1 || filepath.Base(s.Entrypoint[0]) != "aggregator" || !slices.Equal(s.Command, []string{"run"}) {
		t.Fatalf("entrypoint %q command %q, want aggregator run", s.Entrypoint, s.Command)
	}
	var help bytes.Buffer
	if _, err := parseRunConfig([]string{"-h"}, func(string) string { return "" }, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	if !strings.Contains(help.String(), "-clickhouse-addr") {
		t.Fatalf("help output lacks the flags:\n%s", help.String())
	}
	for _, k := range s.UnknownEnv("CSPWATCH_", help.String()) {
		t.Errorf("environment %s names no aggregator run flag", k)
	}
	c, err := parseRunConfig(nil, func(k string) string { return s.Environment[k] }, &help)
	if err != nil {
		t.Fatalf("compose settings rejected: %v", err)
	}
	chEnv := svcs["clickhouse"].Environment
	if c.CH.Addr != "clickhouse:9000" || c.CH.User != chEnv["CLICKHOUSE_USER"] ||
		c.CH.Password != chEnv["CLICKHOUSE_PASSWORD"] || c.CH.Database != chEnv["CLICKHOUSE_DB"] {
		t.Errorf("ClickHouse settings %s %s/%s db %s do not match the clickhouse service %v",
			c.CH.Addr, c.CH.User, c.CH.Password, c.CH.Database, chEnv)
	}
	if !slices.Contains(svcs["clickhouse"].Ports, "9000:9000") {
		t.Errorf("clickhouse does not publish its native port: %q", svcs["clickhouse"].Ports)
	}
	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		t.Fatal(err)
	}
	hc := strings.Join(s.Healthcheck, " ")
	if !strings.Contains(hc, "aggregator healthcheck") || !strings.Contains(hc, ":"+port+"/readyz") {
		t.Errorf("health check %q does not probe /readyz on %s", hc, port)
	}
}
