package bus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/bus"
)

// syncBuffer is a bytes.Buffer safe for the loggers of other goroutines.
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

// Every failed connect attempt is a warning, so that a service waiting for
// NATS says why it waits.
func TestConnectRetryLogsEachAttemptAtWarn(t *testing.T) {
	var logs syncBuffer
	cfg := bus.DefaultConnConfig()
	cfg.URL = "nats://u:secret@127.0.0.1:1" // nothing listens on port 1
	cfg.ReconnectWait = 20 * time.Millisecond
	cfg.Log = zerolog.New(&logs).Level(zerolog.InfoLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if nc, err := bus.Connect(ctx, cfg); err == nil {
		nc.Close()
		t.Fatal("Connect succeeded with no server")
	}
	out := logs.String()
	if n := strings.Count(out, `"level":"warn"`); n < 2 {
		t.Fatalf("%d warnings, want one per attempt:\n%s", n, out)
	}
	if !strings.Contains(out, "connection refused") || strings.Contains(out, "secret") {
		t.Fatalf("warnings lack the cause or show the password:\n%s", out)
	}
}

// An embedded server whose port is taken fails at once with the bind
// error as its cause, and its log lines carry one component key.
func TestStartEmbeddedPortTakenExitsWithBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var logs syncBuffer
	cfg := bus.DefaultEmbeddedConfig()
	cfg.DataDir = t.TempDir()
	cfg.Host = "127.0.0.1"
	cfg.Port = ln.Addr().(*net.TCPAddr).Port
	cfg.Log = zerolog.New(&logs).With().Str("component", "nats-server").Logger()
	start := time.Now()
	e, err := bus.StartEmbedded(cfg)
	if err == nil {
		e.Shutdown()
		t.Fatal("started on a taken port")
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.HasSuffix(err.Error(), "address already in use") {
		t.Fatalf("err %v, want the bind error as its cause", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failed after %v, want at once", d)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Count(line, `"component"`) != 1 {
			t.Errorf("log line with %d component keys: %s", strings.Count(line, `"component"`), line)
		}
		if !json.Valid([]byte(line)) {
			t.Errorf("not JSON: %s", line)
		}
	}
}
