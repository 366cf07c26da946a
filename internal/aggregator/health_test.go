package aggregator_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/bus"

	"github.com/cspwatch/cspwatch/internal/testkit"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

// A frozen ClickHouse (SIGSTOP: sockets open, nothing answered) makes the
// aggregator not ready within its ReadyTimeout, although no insert fails;
// thawed, it is ready again and nothing was lost or stored twice.
func TestReadyFollowsFrozenClickHouse(t *testing.T) {
	ch := clickhousetest.Start(t)
	e := newEnv(t, ch)
	cfg := testConfig()
	cfg.ReadyTimeout = 500 * time.Millisecond
	r := e.start(t, cfg)
	const n = 4000
	publish(t, e.js, 0, n/2)
	testkit.WaitFor(t, 30*time.Second, "first half stored", func() bool { return tallyOf(t, e.st).Events == n/2 })
	testkit.WaitFor(t, 10*time.Second, "ready", r.agg.Ready)
	if err := ch.Freeze(); err != nil {
		t.Fatal(err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			if err := ch.Thaw(); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer thaw()
	publish(t, e.js, n/2, n)
	testkit.WaitFor(t, 20*time.Second, "not ready while ClickHouse is frozen", func() bool { return !r.agg.Ready() })
	if got := r.metric(t, "cspwatch_aggregator_clickhouse_up"); got != 0 {
		t.Errorf("clickhouse_up = %v while frozen, want 0", got)
	}
	thaw()
	testkit.WaitFor(t, 30*time.Second, "ready after the thaw", r.agg.Ready)
	e.checkExactly(t, n)
}

// liveHeap is the heap in use after two collections.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// A long run's live heap does not grow with the number of batches: each
// batch's INSERT and rows are released once it is acknowledged, not kept
// reachable from the next batch. nats-server runs as a child process, so
// that this process's heap is the aggregator's alone (an embedded server
// keeps an index of the stream that grows with every message).
func TestHeapDoesNotGrowWithBatches(t *testing.T) {
	st := faultStore(t)
	port := freePort(t)
	srv := newChild(t, childNATS, fmt.Sprintf("%s=%d", envChildNATSPort, port), envChildNATSDir+"="+t.TempDir())
	srv.start()
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", port)
	js, err := jetstream.New(connect(t, natsURL, "heap-publisher"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err = bus.EnsureStream(ctx, js, bus.DefaultStreamConfig())
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.BatchSize = 100
	cfg.MaxAckPending = 1000
	cfg.BatchWait = 20 * time.Millisecond
	r := startAggregator(t, "heap", connect(t, natsURL, "heap-aggregator"), st, cfg)
	stored := func(n int) func() bool {
		return func() bool { return tallyOf(t, st).Events == uint64(n) }
	}
	const warm, more = 30 * 100, 160 * 100
	publish(t, js, 0, warm)
	testkit.WaitFor(t, 60*time.Second, "warm-up stored", stored(warm))
	before := liveHeap()
	batches0 := r.metric(t, "cspwatch_aggregator_batches_total")
	publish(t, js, warm, warm+more)
	testkit.WaitFor(t, 120*time.Second, "the rest stored", stored(warm+more))
	after := liveHeap()
	batches := r.metric(t, "cspwatch_aggregator_batches_total") - batches0
	if batches < 120 {
		t.Fatalf("only %v batches: the test measures too few", batches)
	}
	growth := int64(after) - int64(before)
	t.Logf("live heap %d -> %d bytes over %v batches (%.1f KB per batch)", before, after, batches, float64(growth)/batches/1024)
	// The chain of batches that each kept the one before alive grew ~190 KB
	// a batch here; 4 MB over 120+ batches is 33 KB a batch at most.
	if growth > 4<<20 {
		t.Fatalf("live heap grew by %d bytes over %v batches", growth, batches)
	}
}
