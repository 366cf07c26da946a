package envflag

import (
	"errors"
	"flag"
	"io"
	"strconv"
	"strings"
	"testing"
)

func TestApply(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		prefix  string
		only    []string
		want    string // url,workers after Apply
		wantErr string
	}{
		{"defaults", nil, nil, "X_", nil, "u0,1", ""},
		{"env", nil, map[string]string{"X_NATS_URL": "u1", "X_WORKERS": "4"}, "X_", nil, "u1,4", ""},
		{"command line wins", []string{"--nats-url", "u2"}, map[string]string{"X_NATS_URL": "u1"}, "X_", nil, "u2,1", ""},
		{"other prefix ignored", nil, map[string]string{"Y_NATS_URL": "u1"}, "X_", nil, "u0,1", ""},
		{"only some flags", nil, map[string]string{"X_NATS_URL": "u1", "X_WORKERS": "4"}, "X_", []string{"workers"}, "u0,4", ""},
		{"bad value", nil, map[string]string{"X_WORKERS": "many"}, "X_", nil, "", `X_WORKERS="many"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			url := fs.String("nats-url", "u0", "")
			workers := fs.Int("workers", 1, "")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := Apply(fs, func(k string) string { return tc.env[k] }, tc.prefix, tc.only...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Apply = %v, want an error naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := *url + "," + strconv.Itoa(*workers); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// An earlier Apply's values count as set: the first prefix wins.
func TestApplyPrefixOrder(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	url := fs.String("nats-url", "u0", "")
	_ = fs.Parse(nil)
	env := map[string]string{"A_NATS_URL": "a", "B_NATS_URL": "b"}
	getenv := func(k string) string { return env[k] }
	if err := Apply(fs, getenv, "A_"); err != nil {
		t.Fatal(err)
	}
	if err := Apply(fs, getenv, "B_"); err != nil {
		t.Fatal(err)
	}
	if *url != "a" {
		t.Fatalf("url = %s, want a", *url)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want error // nil: success
	}{
		{"ok", []string{"--workers", "2"}, map[string]string{"P_NATS_URL": "u"}, nil},
		{"help", []string{"-h"}, nil, flag.ErrHelp},
		{"unknown flag", []string{"--nope"}, nil, ErrUsage},
		{"positional", []string{"extra"}, nil, ErrUsage},
		{"bad env", nil, map[string]string{"P_WORKERS": "x"}, ErrUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			fs.String("nats-url", "", "")
			fs.Int("workers", 1, "")
			err := Parse(fs, tc.args, func(k string) string { return tc.env[k] }, "P_")
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Parse = %v, want %v", err, tc.want)
			}
		})
	}
}
