package main

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestCLI(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		exit   int
		stdout string
		stderr string
	}{
		{"help", []string{"-h"}, 0, "\n  bench ", ""},
		{"run help", []string{"run", "-h"}, 0, "[CSPWATCH_LOADGEN_WORKERS]", ""},
		{"bench help", []string{"bench", "--help"}, 0, "  -phase duration", ""},
		{"help lists version", []string{"-h"}, 0, "  -version\n", ""},
		{"help word bench", []string{"help", "bench"}, 0, "  -phase duration", ""},
		{"bench help word", []string{"bench", "help"}, 0, "  -phase duration", ""},
		{"version", []string{"--version"}, 0, "loadgen ", ""},
		{"no subcommand", nil, 2, "", "\n  run "},
		{"bad number", []string{"run", "--rate", "fast"}, 2, "", ""},
		{"bad code", []string{"run", "--spike-product", "Google Chrome", "--spike-code", "fatal"}, 2, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := Main(context.Background(), tt.args, func(string) string { return "" }, nil, &out, &errb)
			if exitCode(err) != tt.exit || !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
				t.Fatalf("exit %d (%v), stdout %q, stderr %q", exitCode(err), err, out.String(), errb.String())
			}
		})
	}
	var out bytes.Buffer
	if err := Main(context.Background(), []string{"--version"}, os.Getenv, nil, &out, &out); err != nil || !strings.Contains(out.String(), runtime.Version()) {
		t.Fatalf("--version: %v %q", err, out.String())
	}
	err := Main(context.Background(), []string{"run", "--rate", "fast"}, os.Getenv, nil, &out, &out)
	if err == nil || !strings.Contains(err.Error(), `--rate: want a number such as 0.5, got "fast"`) {
		t.Fatalf("bad rate: %v", err)
	}
}

// Semantic checks name the flag and say what it wants, and exit 2 before
// anything starts.
func TestFlagValidationNamesTheFlag(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--url", "notaurl"}, `loadgen run: --url: want an absolute URL (http:// or https://) such as http://127.0.0.1:8080, got "notaurl"`},
		{[]string{"run", "--workers", "0"}, `--workers: want a positive integer, got "0"`},
		{[]string{"run", "--duration", "0"}, `--duration: want a duration above 0 such as 10s, or a --count`},
		{[]string{"run", "--secret", "s"}, `--tenant: want the tenant a --secret belongs to`},
		{[]string{"bench", "--phase", "0"}, `loadgen bench: --phase: want a duration above 0 such as 5s, got "0s"`},
		{[]string{"bench", "--workers", "-1"}, `--workers: want a positive integer, got "-1"`},
		{[]string{"bench", "--devices", "0"}, `--devices: want a positive integer`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := Main(context.Background(), tt.args, func(string) string { return "" }, nil, &out, &errb)
			if exitCode(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v (exit %d), want exit 2 with %q", err, exitCode(err), tt.want)
			}
		})
	}
}

func TestUnknownEnvWarning(t *testing.T) {
	t.Setenv("CSPWATCH_LOADGEN_WORKRS", "4")
	t.Setenv("CSPWATCH_NATS_URL", "nats://x") // another binary's: not loadgen's business
	var out, errb bytes.Buffer
	if err := Main(context.Background(), []string{"run", "-h"}, os.Getenv, nil, &out, &errb); err != nil {
		t.Fatal(err)
	}
	want := "loadgen: warning: CSPWATCH_LOADGEN_WORKRS is not a variable of loadgen; did you mean CSPWATCH_LOADGEN_WORKERS (--workers)?"
	if !strings.Contains(errb.String(), want) || strings.Contains(errb.String(), "CSPWATCH_NATS_URL") {
		t.Fatalf("stderr %q, want %q", errb.String(), want)
	}
}
