package main

import (
	"bytes"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/ingest"
	"github.com/cspwatch/cspwatch/internal/testkit/compose"
)

// TestComposeService checks that docker-compose.yml's ingest service runs
// `ingest serve` with settings it accepts: every CSPWATCH_ variable names a
// flag (an unknown one would do nothing), NATS is the compose service with
// the user it requires, the published port is the one it listens on, the
// health check probes that port, the mounted credentials file parses, and
// Compose waits for it to drain before it kills it. It checks the file as
// it loads by default and with the NATS credentials set, as a deployment
// sets them.
func TestComposeService(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, env := range []map[string]string{
		nil,
		{"CSPWATCH_NATS_USER": "ops", "CSPWATCH_NATS_PASSWORD": "n4ts", "CSPWATCH_INGEST_BIND": "0.0.0.0"},
	} {
		name := "defaults"
		if env != nil {
			name = "set"
		}
		t.Run(name, func(t *testing.T) {
			f, err := compose.LoadEnv(filepath.Join(root, "docker-compose.yml"), env)
			if err != nil {
				t.Fatal(err)
			}
			svcs, err := f.Services()
			if err != nil {
				t.Fatal(err)
			}
			s, ok := svcs["ingest"]
			if !ok {
				t.Fatal("no ingest service")
			}
			if len(s.Entrypoint) != 1 || filepath.Base(s.Entrypoint[0]) != "ingest" || !slices.Equal(s.Command, []string{"serve"}) {
				t.Fatalf("entrypoint %q command %q, want ingest serve", s.Entrypoint, s.Command)
			}

			var help bytes.Buffer
			if _, err := parseServeConfig([]string{"-h"}, func(string) string { return "" }, &help); !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("-h: %v", err)
			}
			if !strings.Contains(help.String(), "-nats-url") {
				t.Fatalf("help output lacks the flags:\n%s", help.String())
			}
			for _, k := range s.UnknownEnv("CSPWATCH_", help.String()) {
				t.Errorf("environment %s names no ingest serve flag", k)
			}

			// The container's paths, mapped to the repository's files.
			creds := ""
			for _, v := range s.Config.Volumes {
				if v.Type == "bind" && v.Target == s.Environment["CSPWATCH_CREDENTIALS"] {
					creds = v.Source
				}
			}
			if creds == "" {
				t.Fatalf("CSPWATCH_CREDENTIALS %q is not a mounted file", s.Environment["CSPWATCH_CREDENTIALS"])
			}
			b, err := os.ReadFile(creds)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ingest.ParseCredentials(b); err != nil {
				t.Errorf("%s: %v", creds, err)
			}
			getenv := func(k string) string {
				if k == "CSPWATCH_CREDENTIALS" {
					return creds
				}
				return s.Environment[k]
			}
			c, err := parseServeConfig(nil, getenv, &help)
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

			_, port, err := net.SplitHostPort(c.Listen)
			if err != nil {
				t.Fatal(err)
			}
			wantIP := "127.0.0.1"
			if ip := env["CSPWATCH_INGEST_BIND"]; ip != "" {
				wantIP = ip
			}
			published := false
			for _, p := range s.Config.Ports {
				published = published || (p.Published == port && strconv.Itoa(int(p.Target)) == port && p.HostIP == wantIP)
			}
			if !published {
				t.Errorf("ports %q do not publish the listen port %s on %s", s.Ports, port, wantIP)
			}
			hc := strings.Join(s.Healthcheck, " ")
			if !strings.Contains(hc, "ingest healthcheck") || !strings.Contains(hc, ":"+port+"/readyz") {
				t.Errorf("health check %q does not probe /readyz on %s", hc, port)
			}
			if c.Stream.Duplicates.Hours() < 1 {
				t.Errorf("duplicate window %v shorter than the one-hour retry horizon", c.Stream.Duplicates)
			}

			// On SIGTERM ingest lets requests in flight finish for up to
			// --shutdown-grace, then drains its NATS connection (10 s at
			// most); Compose kills it after stop_grace_period.
			if need := c.ShutdownGrace + 10*time.Second; s.StopGracePeriod < need {
				t.Errorf("stop_grace_period %v: Compose would kill ingest while it drains (--shutdown-grace %v, then NATS); want at least %v",
					s.StopGracePeriod, c.ShutdownGrace, need)
			}
		})
	}
}
