package zookeeper_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/testkit/zookeeper"
)

// ZooKeeper starts, answers ruok, keeps answering across Kill and Start on
// the same port, and is gone after Stop.
func TestLaunchKillStart(t *testing.T) {
	if os.Getenv("CSPWATCH_TEST_CLICKHOUSE") != "1" {
		t.Skip("ZooKeeper is started only for the ClickHouse cluster tests; set CSPWATCH_TEST_CLICKHOUSE=1 (make test)")
	}
	inst, err := zookeeper.Find()
	if err != nil {
		t.Fatal(err)
	}
	s, err := zookeeper.Launch(inst, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ruok := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return zookeeper.FourLetter(ctx, s.Addr, "ruok")
	}
	if got, err := ruok(); err != nil || got != "imok" {
		t.Fatalf("ruok = %q, %v", got, err)
	}
	addr := s.Addr
	s.Kill()
	if _, err := ruok(); err == nil {
		t.Fatal("answered after Kill")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if s.Addr != addr {
		t.Fatalf("address changed: %s -> %s", addr, s.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srvr, err := zookeeper.FourLetter(ctx, s.Addr, "srvr")
	if err != nil || !strings.Contains(srvr, "Mode: standalone") {
		t.Fatalf("srvr = %q, %v", srvr, err)
	}
	s.Stop()
	if s.Running() {
		t.Fatal("Running after Stop")
	}
}

func TestFindMissing(t *testing.T) {
	t.Setenv(zookeeper.EnvJars, t.TempDir())
	_, err := zookeeper.Find()
	if err == nil || !strings.Contains(err.Error(), "zookeeper.jar not found") {
		t.Fatalf("Find with no jars: %v", err)
	}
}
