package main

import (
	"bytes"
	"errors"
	"flag"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/testkit/compose"
)

// TestComposeService checks that docker-compose.yml's aggregator service
// runs `aggregator run` (the binary without a subcommand only prints its
// help) with settings it accepts: every CSPWATCH_ variable names a flag of
// `aggregator run` (an unknown one would do nothing), NATS and ClickHouse
// are the compose services with the credentials they require, the health
// check probes the port it listens on, and Compose waits for it to store its
// last batch before it kills it. It checks the file as it loads by default
// and with the passwords set, as a deployment sets them.
func TestComposeService(t *testing.T) {
	for _, env := range []map[string]string{
		nil,
		{"CSPWATCH_NATS_USER": "ops", "CSPWATCH_NATS_PASSWORD": "n4ts", "CSPWATCH_CLICKHOUSE_PASSWORD": "ch"},
	} {
		name := "defaults"
		if env != nil {
			name = "set"
		}
		t.Run(name, func(t *testing.T) {
			f, err := compose.LoadEnv(filepath.Join("..", "..", "docker-compose.yml"), env)
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

			// NATS: the compose service, as the user it requires
			// (internal/testkit/compose checks the nats side).
			if c.NATS.Conn.URL != "nats://nats:4222" || c.NATS.Conn.User == "" || c.NATS.Conn.Password == "" {
				t.Errorf("NATS %s as %q: want the nats service with a user and password", c.NATS.Conn.URL, c.NATS.Conn.User)
			}
			if want := env["CSPWATCH_NATS_PASSWORD"]; want != "" && c.NATS.Conn.Password != want {
				t.Errorf("NATS password %q, want CSPWATCH_NATS_PASSWORD's %q", c.NATS.Conn.Password, want)
			}

			// ClickHouse: the compose service, with the user it creates.
			chEnv := svcs["clickhouse"].Environment
			if c.CH.Addr != "clickhouse:9000" || c.CH.User != chEnv["CLICKHOUSE_USER"] ||
				c.CH.Password != chEnv["CLICKHOUSE_PASSWORD"] || c.CH.Database != chEnv["CLICKHOUSE_DB"] {
				t.Errorf("ClickHouse settings %s %s/%s db %s do not match the clickhouse service %v",
					c.CH.Addr, c.CH.User, c.CH.Password, c.CH.Database, chEnv)
			}
			if want := env["CSPWATCH_CLICKHOUSE_PASSWORD"]; want != "" && c.CH.Password != want {
				t.Errorf("ClickHouse password %q, want CSPWATCH_CLICKHOUSE_PASSWORD's %q", c.CH.Password, want)
			}

			_, port, err := net.SplitHostPort(c.Listen)
			if err != nil {
				t.Fatal(err)
			}
			published := false
			for _, p := range s.Config.Ports {
				published = published || (p.Published == port && strconv.Itoa(int(p.Target)) == port)
			}
			if !published {
				t.Errorf("ports %q do not publish the listen port %s", s.Ports, port)
			}
			hc := strings.Join(s.Healthcheck, " ")
			if !strings.Contains(hc, "aggregator healthcheck") || !strings.Contains(hc, ":"+port+"/readyz") {
				t.Errorf("health check %q does not probe /readyz on %s", hc, port)
			}

			// On SIGTERM the aggregator stores its open batch for up to
			// --shutdown-timeout, then stops its HTTP server (5 s), the alerts
			// and its connections; Compose kills it after stop_grace_period.
			if need := c.Agg.ShutdownTimeout + 10*time.Second; s.StopGracePeriod < need {
				t.Errorf("stop_grace_period %v: Compose would kill the aggregator while it stores its last batch (--shutdown-timeout %v); want at least %v",
					s.StopGracePeriod, c.Agg.ShutdownTimeout, need)
			}
		})
	}
}
