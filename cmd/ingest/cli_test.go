package main

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
)

func runMain(t *testing.T, getenv func(string) string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = Main(context.Background(), args, getenv, bytes.NewReader(nil), &out, &errb)
	return out.String(), errb.String(), err
}

func TestCLI(t *testing.T) {
	noenv := func(string) string { return "" }
	tests := []struct {
		name     string
		args     []string
		exit     int
		stdout   []string // what stdout holds
		stderr   []string // what stderr holds
		errorHas string
	}{
		{"help", []string{"-h"}, 0, []string{"usage: ingest <command>", "\n  serve ", "\n  parse ", "\n  healthcheck "}, nil, ""},
		{"help long", []string{"--help"}, 0, []string{"\n  serve "}, nil, ""},
		{"help lists version", []string{"-h"}, 0, []string{"  -version\n"}, nil, ""},
		{"help word serve", []string{"help", "serve"}, 0, []string{"usage: ingest serve", "  -nats-url string"}, nil, ""},
		{"serve help word", []string{"serve", "help"}, 0, []string{"usage: ingest serve", "  -nats-url string"}, nil, ""},
		{"parse help word", []string{"parse", "help"}, 0, []string{"usage: ingest parse"}, nil, ""},
		{"serve help", []string{"serve", "-h"}, 0, []string{"usage: ingest serve", "  -nats-url string", "[CSPWATCH_NATS_URL]", "  -log-level string"}, nil, ""},
		{"parse help", []string{"parse", "--help"}, 0, []string{"usage: ingest parse", "  -commands", "[CSPWATCH_TENANT]"}, nil, ""},
		{"healthcheck help", []string{"healthcheck", "-h"}, 0, []string{"usage: ingest healthcheck", "[CSPWATCH_HEALTHCHECK_URL]"}, nil, ""},
		{"version", []string{"--version"}, 0, []string{"ingest ", "commit ", runtime.Version()}, nil, ""},
		{"no subcommand", nil, 2, nil, []string{"usage: ingest <command>", "\n  serve "}, "want a command"},
		{"unknown subcommand", []string{"frob"}, 2, nil, []string{"\n  serve "}, `unknown command "frob"`},
		{"bad int", []string{"serve", "--max-pending", "lots"}, 2, nil, nil, `--max-pending: want an integer, got "lots"`},
		{"bad duration", []string{"serve", "--shutdown-grace", "long"}, 2, nil, nil, "--shutdown-grace: want a duration such as 24h"},
		{"bad enum", []string{"serve", "--stream-persist", "never"}, 2, nil, nil, `--stream-persist: want default or async, got "never"`},
		{"bad bool", []string{"serve", "--insecure=perhaps"}, 2, nil, nil, `--insecure: want true or false, got "perhaps"`},
		{"bad address", []string{"serve", "--insecure", "--listen", "8080"}, 2, nil, nil, `--listen: want an address host:port (port 0 to 65535) such as :8080, got "8080"`},
		{"bad time", []string{"parse", "--received-at", "now"}, 2, nil, nil, `--received-at: want an RFC 3339 time`},
		{"max body", []string{"serve", "--insecure", "--max-body", "-1"}, 2, nil, nil, `ingest serve: --max-body: want a positive number of bytes such as 1048576, got "-1"`},
		{"stream replicas", []string{"serve", "--insecure", "--stream-replicas", "0"}, 2, nil, nil, `--stream-replicas: want an integer from 1 to 5 (3 in a NATS cluster), got "0"`},
		{"max decompressed", []string{"serve", "--insecure", "--max-decompressed", "10"}, 2, nil, nil, `--max-decompressed: want a number of bytes of at least --max-body`},
		{"retry after", []string{"serve", "--insecure", "--retry-after", "10ms"}, 2, nil, nil, `--retry-after: want a duration of 1s or more such as 5s, got "10ms"`},
		{"listen port", []string{"serve", "--insecure", "--listen", ":70000"}, 2, nil, nil, `--listen: want an address host:port (port 0 to 65535)`},
		{"healthcheck url", []string{"healthcheck", "--url", "notaurl"}, 2, nil, nil, `ingest healthcheck: --url: want an absolute URL (http:// or https://)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := runMain(t, noenv, tt.args...)
			if exitCode(err) != tt.exit {
				t.Fatalf("exit %d (%v), want %d; stderr %q", exitCode(err), err, tt.exit, errOut)
			}
			if tt.errorHas != "" && !strings.Contains(err.Error(), tt.errorHas) {
				t.Errorf("error %q lacks %q", err, tt.errorHas)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// An unknown CSPWATCH_* variable is a warning naming the closest one; the
// variables of serve are known to parse.
func TestUnknownEnvWarning(t *testing.T) {
	t.Setenv("CSPWATCH_CREDENTIAL", "creds.json")
	t.Setenv("CSPWATCH_NATS_URL", "nats://n:4222")
	_, errOut, err := runMain(t, os.Getenv, "parse", "--commands", "/nonexistent.xml")
	if exitCode(err) != 1 {
		t.Fatalf("parse: %v", err)
	}
	if !strings.Contains(errOut, "ingest: warning: CSPWATCH_CREDENTIAL is not a variable of ingest; did you mean CSPWATCH_CREDENTIALS (--credentials)?") {
		t.Errorf("stderr lacks the warning: %q", errOut)
	}
	if strings.Contains(errOut, "CSPWATCH_NATS_URL") {
		t.Errorf("warned of serve's variable: %q", errOut)
	}
}
