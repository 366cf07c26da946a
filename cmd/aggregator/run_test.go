package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/testkit"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
)

func TestMain(m *testing.M) { os.Exit(clickhousetest.Main(m)) }

func envFunc(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestRunConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(runConfig) bool
		wantErr bool
	}{
		{"defaults", nil, nil, func(c runConfig) bool {
			return c.NATS.Conn.URL == "nats://127.0.0.1:4222" && c.CH.Addr == "127.0.0.1:9000" && c.Agg.BatchSize == 50_000 && c.Agg.BatchWait == time.Second
		}, false},
		{"env overrides", nil, map[string]string{"CSPWATCH_NATS_URL": "nats://n:1", "CSPWATCH_CLICKHOUSE_ADDR": "a:9000,b:9000", "CSPWATCH_BATCH_SIZE": "1000", "CSPWATCH_MAX_ACK_PENDING": "4000"},
			func(c runConfig) bool {
				return c.NATS.Conn.URL == "nats://n:1" && len(c.CH.config().Addrs) == 2 && c.Agg.BatchSize == 1000
			}, false},
		{"nats auth", []string{"--nats-nkey", "seed.nk", "--nats-ca", "ca.pem"}, nil, func(c runConfig) bool {
			return c.NATS.Conn.NKeySeedFile == "seed.nk" && c.NATS.Conn.TLSCA == "ca.pem"
		}, false},
		{"flag beats env", []string{"--batch-size", "2000", "--max-ack-pending", "8000"}, map[string]string{"CSPWATCH_BATCH_SIZE": "1000"},
			func(c runConfig) bool { return c.Agg.BatchSize == 2000 }, false},
		{"bad env value", nil, map[string]string{"CSPWATCH_BATCH_WAIT": "soon"}, nil, true},
		{"invalid combination", []string{"--batch-size", "300000"}, nil, nil, true},
		{"unknown flag", []string{"--nope"}, nil, nil, true},
		{"stray argument", []string{"x"}, nil, nil, true},
		{"bad log level", []string{"--log-level", "loud"}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseRunConfig(tt.args, envFunc(tt.env), io.Discard)
			if tt.wantErr {
				if !errors.Is(err, errUsage) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				if exitCode(err) != 2 {
					t.Fatalf("exit code %d, want 2", exitCode(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	err := Main(context.Background(), []string{"frobnicate"}, envFunc(nil), io.Discard, io.Discard)
	if !errors.Is(err, errUsage) {
		t.Fatalf("Main = %v, want usage error", err)
	}
}

// syncBuffer is a goroutine-safe writer for Main's stdout.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The binary end to end: migrations at start, events from NATS into
// ClickHouse, health and metrics over HTTP, a clean stop, then the report.
func TestRunEndToEnd(t *testing.T) {
	ns := natstest.Start(t)
	ns.InstallStream()
	db := clickhousetest.NewDB(t)
	// The administrator names PA, which the failing devices do not.
	products := filepath.Join(t.TempDir(), "products.json")
	if err := os.WriteFile(products, []byte(`[{"tenant": "t1", "csp": "msi", "target_id": "PA", "name": "Contoso App", "version": "1.2"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envFunc(map[string]string{
		"CSPWATCH_NATS_URL":            ns.URL,
		"CSPWATCH_CLICKHOUSE_ADDR":     db.Addr,
		"CSPWATCH_CLICKHOUSE_DATABASE": db.Database,
		"CSPWATCH_BATCH_WAIT":          "100ms",
		"CSPWATCH_LISTEN":              "127.0.0.1:0",
		"CSPWATCH_PRODUCTS":            products,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- Main(ctx, []string{"run"}, env, &stdout, &stderr) }()

	var base string
	testkit.WaitFor(t, 10*time.Second, "listening line", func() bool {
		line, _, _ := bufio.NewReader(strings.NewReader(stdout.String())).ReadLine()
		if s, ok := strings.CutPrefix(string(line), "aggregator listening on "); ok {
			base = s
			return true
		}
		return false
	})
	if code, _ := get(base + "/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	testkit.WaitFor(t, 20*time.Second, "ready", func() bool { code, _ := get(base + "/readyz"); return code == 200 })
	noenv := func(string) string { return "" }
	if err := Main(ctx, []string{"healthcheck", "--url", base + "/readyz"}, noenv, io.Discard, io.Discard); err != nil {
		t.Fatalf("healthcheck of a ready aggregator: %v", err)
	}
	if err := Main(ctx, []string{"healthcheck", "--url", base + "/missing"}, noenv, io.Discard, io.Discard); err == nil {
		t.Fatal("healthcheck of a 404 succeeded")
	}

	nc := ns.Conn()
	now := time.Now().UTC().Truncate(time.Millisecond)
	const n = 300
	for i := range n {
		e := event.Event{EventID: fmt.Sprintf("%032x", i+1), SchemaVersion: 1, ReceivedAt: now,
			Tenant: "t1", DeviceID: fmt.Sprintf("d%03d", i%50), Kind: event.KindAlert, Scope: event.ScopeDevice, CmdID: int64(i),
			CSP: event.CSPMSI, TargetID: "PA", Node: "DownloadInstall", Code: 1603, CodeSpace: "win32", Outcome: "failed"}
		if i%3 == 0 {
			e.Code, e.Outcome = 0, "succeeded"
		}
		msg := nats.NewMsg(string(e.AppendSubject(nil)))
		msg.Data = eventjson.AppendJSON(nil, &e)
		msg.Header.Set(bus.MsgIDHeader, e.EventID)
		if err := nc.PublishMsg(msg); err != nil {
			t.Fatal(err)
		}
	}
	conn := db.Conn(t)
	testkit.WaitFor(t, 30*time.Second, "rows stored", func() bool {
		var c uint64
		return conn.QueryRow(ctx, "SELECT count() FROM install_events").Scan(&c) == nil && c == n
	})
	testkit.WaitFor(t, 10*time.Second, "rows metric", func() bool {
		_, body := get(base + "/metrics")
		return strings.Contains(body, fmt.Sprintf("cspwatch_aggregator_rows_inserted_total %d", n))
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Main: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("aggregator did not stop")
	}

	if !classifyReady() {
		t.Skip("internal/codes.Classify is not implemented yet; report output not checked")
	}
	var out bytes.Buffer
	err := Main(context.Background(), []string{"report", "--tenant", "t1", "--since", "1h"}, env, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// No install command: each device's events are one attempt, decided by
	// its last event (the highest CmdID within the millisecond).
	for _, want := range []string{"tenant t1", fmt.Sprintf("50 devices, 50 install attempts (%d events)", n), "1603", "ERROR_INSTALL_FAILURE",
		"Contoso App  1.2", "0x80070643"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if !regexp.MustCompile(`Contoso App 1\.2 \(\d+\)`).MatchString(out.String()) {
		t.Errorf("the 1603 row does not name Contoso App 1.2:\n%s", out.String())
	}
}

// classifyReady reports whether internal/codes.Classify is implemented (it
// is a stub that panics until its issue lands).
func classifyReady() (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	codes.Classify(codes.SpaceWin32, 1603)
	return true
}
