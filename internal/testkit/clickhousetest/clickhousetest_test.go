package clickhousetest_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

func TestMain(m *testing.M) { os.Exit(clickhousetest.Main(m)) }

// A private server answers, keeps its data across Stop and Start on the same
// address, and refuses connections while stopped.
func TestStartStopStart(t *testing.T) {
	s := clickhousetest.Start(t)
	ctx := context.Background()
	conn := s.Conn(t)
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version == "" {
		t.Fatal("empty version")
	}
	if err := conn.Exec(ctx, "CREATE TABLE keep (x UInt32) ENGINE = MergeTree ORDER BY x"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "INSERT INTO keep (x) SELECT 7"); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr
	s.Stop()
	if s.Running() {
		t.Fatal("Running after Stop")
	}
	down, err := clickhousetest.Open(addr, "default")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := down.Ping(qctx); err == nil {
		t.Fatal("ping answered while stopped")
	}
	s.Start()
	if s.Addr != addr {
		t.Fatalf("address changed: %s -> %s", addr, s.Addr)
	}
	var x uint32
	if err := s.Conn(t).QueryRow(ctx, "SELECT x FROM keep").Scan(&x); err != nil {
		t.Fatal(err)
	}
	if x != 7 {
		t.Fatalf("x = %d after restart, want 7", x)
	}
}

// Two databases from NewDB are separate and exist until the test ends.
func TestNewDBIsolates(t *testing.T) {
	a, b := clickhousetest.NewDB(t), clickhousetest.NewDB(t)
	if a.Database == b.Database {
		t.Fatalf("same database %q twice", a.Database)
	}
	ctx := context.Background()
	if err := a.Conn(t).Exec(ctx, "CREATE TABLE only_a (x UInt8) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := b.Conn(t).QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = 'only_a'", b.Database).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("table of one database visible in the other")
	}
}

// recorder is a testing.TB that records Skip and Fatal instead of acting on
// the real test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(f string, a ...any) {
	r.skipped = f
	runtime.Goexit()
}
func (r *recorder) Fatalf(f string, a ...any) {
	r.failed = f
	runtime.Goexit()
}

func TestRequiredPolicy(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-clickhouse-server")
	tests := []struct {
		name               string
		required, addr     string
		wantSkip, wantFail bool
	}{
		{"absent, not required: skip", "", "", true, false},
		{"absent, required: fail", "1", "", false, true},
		{"external address: go on", "1", "127.0.0.1:9", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(clickhousetest.EnvBinary, missing)
			t.Setenv(clickhousetest.EnvRequired, tt.required)
			t.Setenv(clickhousetest.EnvAddr, tt.addr)
			// The binary override wins over PATH, but Binary reports only
			// a path; Required must treat a missing file as absent.
			r := &recorder{}
			done := make(chan struct{})
			go func() {
				defer close(done)
				clickhousetest.Required(r)
			}()
			<-done
			if (r.skipped != "") != tt.wantSkip || (r.failed != "") != tt.wantFail {
				t.Fatalf("skipped %q, failed %q; want skip %v, fail %v", r.skipped, r.failed, tt.wantSkip, tt.wantFail)
			}
			if tt.wantSkip && !strings.Contains(r.skipped, "not installed") {
				t.Fatalf("skip message %q does not say why", r.skipped)
			}
		})
	}
}
