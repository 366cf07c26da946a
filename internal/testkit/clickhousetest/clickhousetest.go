// Package clickhousetest gives tests a real ClickHouse server: Debian's
// clickhouse-server (18.16 on these machines, the oldest server cspwatch
// supports) started as a child process on free loopback ports with its data in
// a temporary directory, or an already running server named by
// CSPWATCH_TEST_CLICKHOUSE_ADDR.
//
// Policy: when no server can be had, a test skips, saying why, unless
// CSPWATCH_TEST_CLICKHOUSE=1 (set by `make test`), in which case it fails.
//
// Two ways in:
//   - DB(t) returns a fresh, empty database on a server shared by the whole
//     test binary (the external server when CSPWATCH_TEST_CLICKHOUSE_ADDR is
//     set, otherwise one child process started on first use). Starting a
//     server costs one to two seconds and a few hundred MB, so packages with
//     many ClickHouse tests share one and isolate tests by database. A package
//     using DB should call Main from its TestMain so the child is stopped when
//     the binary ends.
//   - Start(t) always starts a private server, for the tests that stop and
//     restart ClickHouse under load.
package clickhousetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/chserver"
)

// Environment variables that steer the harness.
const (
	// EnvRequired set to 1 turns "no ClickHouse available" from a skip into a
	// test failure.
	EnvRequired = "CSPWATCH_TEST_CLICKHOUSE"
	// EnvAddr names an already running server (host:port of its native
	// protocol, user default without password) for DB to use instead of
	// starting one.
	EnvAddr = "CSPWATCH_TEST_CLICKHOUSE_ADDR"
	// EnvBinary overrides the path of the clickhouse-server executable.
	EnvBinary = "CSPWATCH_TEST_CLICKHOUSE_SERVER"
)

// StartTimeout bounds how long a server may take to answer SELECT 1.
const StartTimeout = 60 * time.Second

// Binary returns the clickhouse-server executable: $CSPWATCH_TEST_CLICKHOUSE_SERVER,
// then the places chserver.Binary looks.
func Binary() (string, error) { return chserver.Binary(os.Getenv(EnvBinary)) }

// Required skips t when neither an external server nor the clickhouse-server
// binary is available, or fails it when CSPWATCH_TEST_CLICKHOUSE=1.
func Required(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvAddr) != "" {
		return
	}
	if _, err := Binary(); err != nil {
		unavailable(t, err)
	}
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv(EnvRequired) == "1" {
		t.Fatalf("clickhousetest: %v (required: %s=1)", err, EnvRequired)
	}
	t.Skipf("clickhouse-server not installed; set %s=1 via make test (%v)", EnvRequired, err)
}

// Server is a clickhouse-server child process (see chserver.Server) whose
// Start panics instead of returning an error, for tests that restart it.
type Server struct{ *chserver.Server }

// Start starts a private server for t and stops it when t ends. It skips or
// fails t by the package policy when no binary is available, and fails t when
// the server does not answer within StartTimeout.
func Start(t testing.TB) *Server {
	t.Helper()
	Required(t)
	bin, err := Binary()
	if err != nil {
		unavailable(t, err)
	}
	dir, err := os.MkdirTemp("", "clickhousetest-")
	if err != nil {
		t.Fatalf("clickhousetest: %v", err)
	}
	cs, err := chserver.Launch(bin, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("clickhousetest: %v", err)
	}
	s := &Server{cs}
	t.Cleanup(func() {
		s.Stop()
		_ = os.RemoveAll(dir)
	})
	return s
}

// Start starts a stopped server again on the same ports and data directory
// and waits until it answers. It panics if the server does not come back,
// since the test cannot go on without it; call it from the test goroutine.
func (s *Server) Start() {
	if err := s.Server.Start(); err != nil {
		panic(fmt.Sprintf("clickhousetest: restart: %v", err))
	}
}

// shared is the binary-wide server behind DB.
var shared struct {
	once sync.Once
	addr string
	srv  *chserver.Server
	err  error
}

// Main runs the tests of a package that uses DB and stops the shared server
// afterwards: func TestMain(m *testing.M) { os.Exit(clickhousetest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Stop()
		_ = os.RemoveAll(shared.srv.Dir)
	}
	return code
}

func sharedAddr(t testing.TB) string {
	t.Helper()
	Required(t)
	shared.once.Do(func() {
		if a := os.Getenv(EnvAddr); a != "" {
			shared.addr = a
			return
		}
		bin, err := Binary()
		if err != nil {
			shared.err = err
			return
		}
		dir, err := os.MkdirTemp("", "clickhousetest-shared-")
		if err != nil {
			shared.err = err
			return
		}
		shared.srv, shared.err = chserver.Launch(bin, dir)
		if shared.err != nil {
			_ = os.RemoveAll(dir)
			return
		}
		shared.addr = shared.srv.Addr
	})
	if shared.err != nil {
		t.Fatalf("clickhousetest: shared server: %v", shared.err)
	}
	return shared.addr
}

// DB is a fresh database on the shared server, dropped when the test ends.
type DB struct {
	Addr     string
	Database string
}

// NewDB creates an empty database with a unique name on the shared server
// (see the package comment) and drops it when t ends.
func NewDB(t testing.TB) DB {
	t.Helper()
	addr := sharedAddr(t)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	db := DB{Addr: addr, Database: "cspwatch_test_" + hex.EncodeToString(rnd[:])}
	exec := func(q string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := Open(addr, "default")
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Exec(ctx, q)
	}
	if err := exec("CREATE DATABASE " + db.Database); err != nil {
		t.Fatalf("clickhousetest: create database: %v", err)
	}
	t.Cleanup(func() {
		// 18.16 can deadlock a DROP DATABASE against a query still running
		// on it (one a stopped client left behind: the server finishes a
		// cancelled query on its own time), and then hangs every later
		// query of that database. system.processes does not say which
		// database a query uses, so wait for the server's queries to end
		// (tests of one binary run one at a time); a server still busy
		// after that keeps the database, it is temporary, rather than risk
		// the deadlock.
		if busy := waitIdle(addr, 10*time.Second); busy != 0 {
			t.Logf("clickhousetest: %d queries still run; not dropping %s", busy, db.Database)
			return
		}
		if err := exec("DROP DATABASE IF EXISTS " + db.Database); err != nil {
			t.Errorf("clickhousetest: drop database: %v", err)
		}
	})
	return db
}

// waitIdle polls, until timeout, for the server to run no query but those
// reading system.processes, and returns how many still run (0 when idle,
// or when the server cannot be asked).
func waitIdle(addr string, timeout time.Duration) uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := Open(addr, "default")
	if err != nil {
		return 0
	}
	defer conn.Close()
	for {
		var n uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM system.processes WHERE position(query, 'system.processes') = 0").Scan(&n)
		if err != nil || n == 0 {
			return 0
		}
		select {
		case <-ctx.Done():
			return n
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Open opens a native-protocol connection as the passwordless default user.
func Open(addr, database string) (driver.Conn, error) {
	return clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		Protocol:    clickhouse.Native,
		Auth:        clickhouse.Auth{Database: database, Username: "default"},
		DialTimeout: 5 * time.Second,
		ReadTimeout: time.Minute,
	})
}

// Conn opens a connection to the database, closed when t ends.
func (d DB) Conn(t testing.TB) driver.Conn {
	t.Helper()
	conn, err := Open(d.Addr, d.Database)
	if err != nil {
		t.Fatalf("clickhousetest: open: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Store opens cspwatch's store on the database with every migration applied,
// closed when t ends. tune, when not nil, adjusts the configuration first
// (timeouts, say).
func (d DB) Store(t testing.TB, tune func(*store.Config)) *store.Store {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.Addrs, cfg.Database = []string{d.Addr}, d.Database
	if tune != nil {
		tune(&cfg)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("clickhousetest: open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatalf("clickhousetest: migrate: %v", err)
	}
	return st
}

// Conn opens a connection to the server's default database, closed when t ends.
func (s *Server) Conn(t testing.TB) driver.Conn {
	t.Helper()
	return DB{Addr: s.Addr, Database: "default"}.Conn(t)
}
