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
	noenv := func(string) string { return "" }
	tests := []struct {
		name   string
		args   []string
		exit   int
		stdout []string
		err    string
	}{
		{"help", []string{"-h"}, 0, []string{"usage: demo [flags]", "  -devices int", "[CSPWATCH_DEMO_DEVICES]", "also CSPWATCH_NATS_URL"}, ""},
		{"help long", []string{"--help"}, 0, []string{"usage: demo"}, ""},
		{"help lists version", []string{"-h"}, 0, []string{"  -version\n"}, ""},
		{"help word", []string{"help"}, 0, []string{"usage: demo [flags]"}, ""},
		{"version", []string{"--version"}, 0, []string{"demo ", "commit ", runtime.Version()}, ""},
		{"bad duration", []string{"--duration", "long"}, 2, nil, `--duration: want a duration such as 24h, 90s or 1h30m, got "long"`},
		{"bad fraction", []string{"--spike-fraction", "most"}, 2, nil, `--spike-fraction: want a number such as 0.5, got "most"`},
		{"stray argument", []string{"now"}, 2, nil, `unexpected arguments ["now"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := Main(context.Background(), tt.args, noenv, &out, &errb)
			if exitCode(err) != tt.exit || (tt.err != "" && !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("exit %d (%v), want %d with %q", exitCode(err), err, tt.exit, tt.err)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestUnknownEnvWarning(t *testing.T) {
	t.Setenv("CSPWATCH_DEMO_DEVICE", "100")
	var out, errb bytes.Buffer
	if err := Main(context.Background(), []string{"-h"}, os.Getenv, &out, &errb); err != nil {
		t.Fatal(err)
	}
	want := "demo: warning: CSPWATCH_DEMO_DEVICE is not a variable of demo; did you mean CSPWATCH_DEMO_DEVICES (--devices)?"
	if !strings.Contains(errb.String(), want) {
		t.Fatalf("stderr %q, want %q", errb.String(), want)
	}
}
