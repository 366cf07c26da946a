package main

import (
	"bytes"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/testkit/compose"
	"github.com/cspwatch/cspwatch/internal/ingest"
)

// TestComposeService checks that docker-compose.yml's ingest service runs a
// command this binary has, with settings it accepts: every CSPWATCH_
// variable names a flag (applyEnv ignores unknown ones, so a typo would
// silently do nothing), the published port is the one it listens on, the
// health check probes that port, and the mounted credentials file parses.
func TestComposeService(t *testing.T) {
	root := filepath.Join("..", "..")
	f, err := compose.Load(filepath.Join(root, "docker-compose.yml"))
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
	for _, v := range s.Volumes {
		src, dst, _ := strings.Cut(strings.TrimSuffix(v, ":ro"), ":")
		if dst == s.Environment["CSPWATCH_CREDENTIALS"] {
			creds = filepath.Join(root, src)
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
	env := func(k string) string {
		if k == "CSPWATCH_CREDENTIALS" {
			return creds
		}
		return s.Environment[k]
	}
	c, err := parseServeConfig(nil, env, &help)
	if err != nil {
		t.Fatalf("compose settings rejected: %v", err)
	}
	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.Ports, port+":"+port) {
		t.Errorf("ports %q do not publish the listen port %s", s.Ports, port)
	}
	hc := strings.Join(s.Healthcheck, " ")
	if !strings.Contains(hc, "ingest healthcheck") || !strings.Contains(hc, ":"+port+"/readyz") {
		t.Errorf("health check %q does not probe /readyz on %s", hc, port)
	}
	if c.Stream.Duplicates.Hours() < 1 {
		t.Errorf("duplicate window %v shorter than the one-hour retry horizon", c.Stream.Duplicates)
	}
}
