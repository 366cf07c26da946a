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
