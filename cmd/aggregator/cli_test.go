package main

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
)

// run runs the aggregator's Main with args and the process's environment.
func runMain(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = Main(context.Background(), args, os.Getenv, &out, &errb)
	return out.String(), errb.String(), err
}

// -h and --help print the command's usage, subcommands and flags to stdout
// and exit 0 at every level.
func TestHelpEveryLevel(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"-h"}, []string{"usage: aggregator <command>", "\n  run ", "\n  report ", "\n  dashboard ", "\n  alerts ", "\n  dlq ", "\n  catalog ", "\n  sql ", "\n  migrate ", "\n  healthcheck "}},
		{[]string{"--help"}, []string{"usage: aggregator <command>", "\n  run "}},
		{[]string{"help"}, []string{"usage: aggregator <command>", "\n  run "}},
		{[]string{"-h"}, []string{"  -version\n"}},
		{[]string{"help", "run"}, []string{"usage: aggregator run", "  -batch-size int"}},
		{[]string{"run", "help"}, []string{"usage: aggregator run", "  -batch-size int"}},
		{[]string{"dlq", "help"}, []string{"usage: aggregator dlq", "\n  replay "}},
		{[]string{"dlq", "help", "replay"}, []string{"usage: aggregator dlq replay"}},
		{[]string{"help", "dlq", "replay"}, []string{"usage: aggregator dlq replay", "replay every dead letter (command line only: never read from the environment)\n"}},
		{[]string{"run", "-h"}, []string{"usage: aggregator run", "  -nats-url string", "  -clickhouse-addr string", "[CSPWATCH_BATCH_SIZE]", "  -log-format string"}},
		{[]string{"report", "--help"}, []string{"usage: aggregator report", "  -since duration", "never in events"}},
		{[]string{"dashboard", "-h"}, []string{"usage: aggregator dashboard", "  -dashboard-addr string"}},
		{[]string{"alerts", "-h"}, []string{"usage: aggregator alerts", "  -format"}},
		{[]string{"dlq", "-h"}, []string{"usage: aggregator dlq", "\n  list ", "\n  replay "}},
		{[]string{"dlq", "list", "-h"}, []string{"usage: aggregator dlq list", "  -limit int"}},
		{[]string{"dlq", "replay", "-h"}, []string{"usage: aggregator dlq replay", "  -dry-run"}},
		{[]string{"catalog", "-h"}, []string{"usage: aggregator catalog", "\n  load ", "\n  list "}},
		{[]string{"catalog", "load", "-h"}, []string{"usage: aggregator catalog load", "  -dry-run"}},
		{[]string{"catalog", "load", "file.csv", "-h"}, []string{"usage: aggregator catalog load"}},
		{[]string{"catalog", "list", "-h"}, []string{"usage: aggregator catalog list", "  -tenant string"}},
		{[]string{"sql", "-h"}, []string{"usage: aggregator sql", "\n  list ", "\n  render ", "\n  run "}},
		{[]string{"sql", "list", "-h"}, []string{"usage: aggregator sql list"}},
		{[]string{"sql", "render", "-h"}, []string{"usage: aggregator sql render", "  -param"}},
		{[]string{"sql", "run", "top_causes", "-h"}, []string{"usage: aggregator sql run", "  -clickhouse-addr"}},
		{[]string{"migrate", "-h"}, []string{"usage: aggregator migrate", "  -clickhouse-addr"}},
		{[]string{"healthcheck", "-h"}, []string{"usage: aggregator healthcheck", "  -url string", "[CSPWATCH_HEALTHCHECK_URL]"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, _, err := runMain(t, tt.args...)
			if err != nil || exitCode(err) != 0 {
				t.Fatalf("err %v (exit %d), want nil", err, exitCode(err))
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("help lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// A command that needs a subcommand prints its usage to stderr and exits 2
// instead of starting anything.
func TestNoSubcommand(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "\n  run "},
		{[]string{"dlq"}, "\n  replay "},
		{[]string{"catalog"}, "\n  load "},
		{[]string{"sql"}, "\n  render "},
		{[]string{"frobnicate"}, "\n  run "},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, err := runMain(t, tt.args...)
			if exitCode(err) != 2 || out != "" || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "usage:") {
				t.Fatalf("err %v (exit %d), stdout %q, stderr:\n%s", err, exitCode(err), out, errOut)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, _, err := runMain(t, "--version")
	if err != nil || !strings.HasPrefix(out, "aggregator ") || !strings.Contains(out, "commit ") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("--version: %v %q", err, out)
	}
}

// An invalid value says what the flag expects and exits 2.
func TestInvalidValues(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"report", "--since", "yesterday"}, nil, `--since: want a duration such as 24h, 90s or 1h30m, got "yesterday"`},
		{[]string{"report", "--since", "-1h"}, nil, "--since: want a positive duration such as 24h"},
		{[]string{"report", "--top", "many"}, nil, `--top: want an integer, got "many"`},
		{[]string{"report", "--format", "xml"}, nil, `--format: want table, json, csv or html, got "xml"`},
		{[]string{"report", "--table", "all"}, nil, `--table: want products, causes or stuck, got "all"`},
		{[]string{"alerts", "--format", "xml"}, nil, "--format: "},
		{[]string{"report", "--frob"}, nil, "unknown flag --frob"},
		{[]string{"report"}, map[string]string{"CSPWATCH_SINCE": "soon"}, `CSPWATCH_SINCE="soon": --since: want a duration such as 24h`},
		{[]string{"run", "--alerts=maybe"}, nil, `--alerts: want true or false, got "maybe"`},
		{[]string{"run", "--log-format", "xml"}, nil, `--log-format: want json or console, got "xml"`},
		{[]string{"run", "--log-level", "loud"}, nil, "--log-level: want trace, debug, info, warn or error"},
		{[]string{"run", "--listen", "8081"}, nil, `--listen: want an address host:port (port 0 to 65535) such as 127.0.0.1:8081, got "8081"`},
		{[]string{"run", "--clickhouse-addr", "ch"}, nil, `--clickhouse-addr: want an address host:port`},
		{[]string{"run", "--nats-connect-timeout", "0s"}, nil, "--nats-connect-timeout: want a positive duration"},
		{[]string{"dashboard", "--dashboard-addr", "nope"}, nil, "--dashboard-addr: want an address host:port"},
		{[]string{"dlq", "list", "--limit", "-1"}, nil, "--limit: want 0 (all) or a positive integer"},
		{[]string{"dlq", "replay", "--seq", "x"}, nil, `--seq: want a positive integer sequence, got "x"`},
		{[]string{"healthcheck", "--timeout", "soon"}, nil, "--timeout: want a duration"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := Main(context.Background(), tt.args, envFunc(tt.env), &out, &errb)
			if exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v (exit %d), want a usage error with %q", err, exitCode(err), tt.want)
			}
		})
	}
}

// An unknown CSPWATCH_* variable is a warning naming the closest variable;
// a variable of another command of the binary is not unknown.
func TestUnknownEnvWarning(t *testing.T) {
	t.Setenv("CSPWATCH_NATS_UR", "nats://x:4222")
	t.Setenv("CSPWATCH_SINCE", "1h")          // report's, known to sql list too
	t.Setenv("CSPWATCH_HEALTHCHECK_URL", "x") // healthcheck's
	t.Setenv("CSPWATCH_DEMO_DEVICES", "10")   // the demo's namespace
	out, errOut, err := runMain(t, "sql", "list")
	if err != nil || out == "" {
		t.Fatalf("sql list: %v", err)
	}
	want := "aggregator: warning: CSPWATCH_NATS_UR is not a variable of aggregator; did you mean CSPWATCH_NATS_URL (--nats-url)?\n"
	if !strings.Contains(errOut, want) {
		t.Fatalf("stderr %q, want %q", errOut, want)
	}
	for _, k := range []string{"CSPWATCH_SINCE", "CSPWATCH_HEALTHCHECK_URL", "CSPWATCH_DEMO_DEVICES"} {
		if strings.Contains(errOut, k) {
			t.Errorf("warned of %s: %q", k, errOut)
		}
	}
}

// A read-only command does not describe flags that create or write.
func TestReadOnlyFlags(t *testing.T) {
	writes := []string{"-migrate", "-batch-size", "-products", "created if missing", "insert", "-durable"}
	for _, args := range [][]string{
		{"report", "-h"}, {"alerts", "-h"}, {"dashboard", "-h"}, {"sql", "list", "-h"}, {"sql", "render", "-h"},
		{"sql", "run", "-h"}, {"catalog", "list", "-h"}, {"dlq", "list", "-h"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, _, err := runMain(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range writes {
				if strings.Contains(out, w) {
					t.Errorf("read-only help describes %q:\n%s", w, out)
				}
			}
		})
	}
}

// Every invalid value exits 2 and names its flag with what it wants, the
// semantic checks as well as the parsing ones.
func TestFlagValidationNamesTheFlag(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--batch-size", "0"}, `aggregator run: --batch-size: want an integer of 1 or more, got "0"`},
		{[]string{"run", "--alert-factor", "-1"}, `--alert-factor: want a number above 1 such as 3, got "-1"`},
		{[]string{"run", "--alert-slack-url", "foo"}, `--alert-slack-url: want an absolute URL (http:// or https://)`},
		{[]string{"run", "--alert-alertmanager-url", "foo"}, `--alert-alertmanager-url: want an Alertmanager base URL`},
		{[]string{"run", "--ack-wait", "1ms"}, `--ack-wait: want a duration of 1s or more such as 30s, got "1ms"`},
		{[]string{"run", "--max-ack-pending", "10"}, `--max-ack-pending: want at least two batches`},
		{[]string{"run", "--max-deliver", "1"}, `--max-deliver: want -1 (unbounded) or an integer of 2 or more`},
		{[]string{"run", "--listen", "127.0.0.1:99999"}, `--listen: want an address host:port (port 0 to 65535) such as 127.0.0.1:8081, got "127.0.0.1:99999"`},
		{[]string{"run", "--clickhouse-tls", "--clickhouse-ca", "/nonexistent"}, `--clickhouse-ca: want a readable PEM file, got "/nonexistent"`},
		{[]string{"run", "--clickhouse-ca", "/nonexistent"}, `--clickhouse-tls: want true when`},
		{[]string{"report", "--clickhouse-database", "a.b"}, `--clickhouse-database: want a database name`},
		{[]string{"alerts", "--format", "html"}, `aggregator alerts: --format: want table, json or csv, got "html"`},
		{[]string{"healthcheck", "--url", "notaurl"}, `aggregator healthcheck: --url: want an absolute URL (http:// or https://) such as http://127.0.0.1:8081/readyz, got "notaurl"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := Main(context.Background(), tt.args, func(string) string { return "" }, &out, &errb)
			if exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v (exit %d), want exit 2 with %q", err, exitCode(err), tt.want)
			}
		})
	}
}
