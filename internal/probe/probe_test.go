package probe

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/cspwatch/cspwatch/internal/cli"
)

func TestCheck(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready {
			http.Error(w, "stream missing", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()

	tests := []struct {
		name    string
		ready   bool
		url     string
		fail    bool
		wantErr error // when set, the error must wrap it
	}{
		{"ready", true, srv.URL, false, nil},
		{"not ready", false, srv.URL, true, ErrNotReady},
		{"nobody listening", true, "http://127.0.0.1:1/readyz", true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ready = tc.ready
			err := Check(context.Background(), tc.url, 2*time.Second)
			if (err != nil) != tc.fail {
				t.Fatalf("Check = %v, want failure %v", err, tc.fail)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Check = %v, want it to wrap %v", err, tc.wantErr)
			}
		})
	}
}

func TestCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		fail  bool
		usage bool
	}{
		{"default url", nil, nil, false, false},
		{"flag url", []string{"--url", srv.URL + "/other"}, nil, true, false},
		{"env url", nil, map[string]string{"CSPWATCH_HEALTHCHECK_URL": srv.URL + "/other"}, true, false},
		{"stray argument", []string{"now"}, nil, true, true},
		{"bad timeout", []string{"--timeout", "soon"}, nil, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := cli.App{Root: &ffcli.Command{Name: "x", Subcommands: []*ffcli.Command{Command("x", srv.URL+"/readyz")}},
				Getenv: func(k string) string { return tc.env[k] }, Prefixes: map[string]string{"x healthcheck": EnvPrefix},
				Stdout: io.Discard, Stderr: io.Discard}
			err := app.Run(context.Background(), append([]string{"healthcheck"}, tc.args...))
			if (err != nil) != tc.fail {
				t.Fatalf("Command = %v, want failure %v", err, tc.fail)
			}
			if tc.usage != errors.Is(err, cli.ErrUsage) {
				t.Fatalf("Command = %v, usage error want %v", err, tc.usage)
			}
		})
	}
}
