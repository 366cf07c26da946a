package chcluster

import (
	"os"
	"testing"

	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
	"github.com/cspwatch/cspwatch/internal/testkit/zookeeper"
)

// Required skips t unless CSPWATCH_TEST_CLICKHOUSE=1 (set by `make test`):
// a cluster is ZooKeeper and several clickhouse-servers, too heavy for a bare
// `go test ./...` on a shared machine. With it set, a missing
// clickhouse-server, java or ZooKeeper fails t, saying what is missing.
func Required(t testing.TB) {
	t.Helper()
	if os.Getenv(clickhousetest.EnvRequired) != "1" {
		t.Skipf("ClickHouse cluster test (ZooKeeper and several clickhouse-servers) runs only with %s=1, as make test sets it", clickhousetest.EnvRequired)
	}
	if _, err := clickhousetest.Binary(); err != nil {
		t.Fatalf("chcluster: %v (required: %s=1)", err, clickhousetest.EnvRequired)
	}
	if _, err := zookeeper.Find(); err != nil {
		t.Fatalf("chcluster: %v (required: %s=1)", err, clickhousetest.EnvRequired)
	}
}

// Start launches a cluster for t (see Launch; the clickhouse-server binary is
// clickhousetest.Binary, so CSPWATCH_TEST_CLICKHOUSE_SERVER applies) and
// closes it when t ends. It skips or fails t by Required's policy and fails
// it when the cluster does not come up.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	Required(t)
	if opts.ClickHouse == "" {
		bin, err := clickhousetest.Binary()
		if err != nil {
			t.Fatalf("chcluster: %v", err)
		}
		opts.ClickHouse = bin
	}
	c, err := Launch(opts)
	if err != nil {
		t.Fatalf("chcluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
