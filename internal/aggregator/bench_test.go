package aggregator_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/aggregator"
	"github.com/cspwatch/cspwatch/internal/bus/bustest"
	"github.com/cspwatch/cspwatch/internal/clickhousetest"
	"github.com/cspwatch/cspwatch/internal/store"
)

// BenchmarkThroughput measures, in one run and against the same ClickHouse,
// (1) raw clickhouse-go: pre-built column slices of the install_events shape
// sent with PrepareBatch in batches of the given size, and (2) the
// aggregator draining a pre-filled stream of the same number of events with
// the same batch size (fetch, decode, insert, ack). It reports both rates
// and their ratio (target: >= 0.70). Run it with -benchtime 3x for medians
// of three alternating measurements.
func BenchmarkThroughput(b *testing.B) {
	for _, tc := range []struct{ batch, events int }{{1_000, 50_000}, {10_000, 100_000}, {50_000, 200_000}} {
		b.Run(fmt.Sprintf("batch=%d", tc.batch), func(b *testing.B) {
			// Alternate the two and take medians: the machine is shared, and
			// a burst of load elsewhere should not land on one side only.
			var raws, aggs []float64
			for range b.N {
				raws = append(raws, rawInsertRate(b, tc.batch, tc.events))
				aggs = append(aggs, aggregatorRate(b, tc.batch, tc.events))
			}
			rawRate, aggRate := median(raws), median(aggs)
			b.ReportMetric(rawRate, "raw_rows/s")
			b.ReportMetric(aggRate, "agg_rows/s")
			b.ReportMetric(aggRate/rawRate, "ratio")
			b.ReportMetric(0, "ns/op") // one op is a whole drain; the rates are the result
		})
	}
}

func benchStore(b *testing.B) *store.Store {
	b.Helper()
	return clickhousetest.NewDB(b).Store(b, nil)
}

// rawInsertRate inserts n pre-built rows in batches of size batch with
// plain clickhouse-go, column-wise, and returns rows/s.
func rawInsertRate(b *testing.B, batch, n int) float64 {
	b.Helper()
	st := benchStore(b)
	at := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)
	type cols []any
	var batches []cols
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		m := end - start
		str := func() []string { return make([]string, m) }
		c := cols{str(), make([]uint8, m), make([]time.Time, m), make([]uint16, m), str(), str(), str(), str(), str(),
			make([]int64, m), make([]int64, m), str(), str(), str(), str(), str(), make([]int64, m), str(), make([]int64, m),
			str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str(),
			make([]uint64, m)}
		for i := range m {
			e := fleetEvent(start+i, at)
			c[0].([]string)[i] = e.EventID
			c[1].([]uint8)[i] = 1
			c[2].([]time.Time)[i] = e.ReceivedAt.Truncate(time.Second)
			c[3].([]uint16)[i] = uint16(e.ReceivedAt.Nanosecond() / 1e6)
			c[4].([]string)[i] = e.Tenant
			c[5].([]string)[i] = e.DeviceID
			c[6].([]string)[i] = e.SessionID
			c[7].([]string)[i] = e.MsgID
			c[8].([]string)[i] = e.Kind
			c[9].([]int64)[i] = e.CmdID
			c[11].([]string)[i] = e.Scope
			c[12].([]string)[i] = e.CSP
			c[13].([]string)[i] = e.TargetID
			c[14].([]string)[i] = e.Node
			c[16].([]int64)[i] = e.Code
			c[19].([]string)[i] = e.CodeSpace
			c[21].([]string)[i] = e.Outcome
			c[23].([]string)[i] = e.AlertType
			c[35].([]uint64)[i] = uint64(start + i + 1)
		}
		batches = append(batches, c)
	}
	ctx := context.Background()
	start := time.Now()
	for _, c := range batches {
		bt, err := st.Conn().PrepareBatch(ctx, store.InsertQuery)
		if err != nil {
			b.Fatal(err)
		}
		for i, col := range c {
			if err := bt.Column(i).Append(col); err != nil {
				b.Fatal(err)
			}
		}
		if err := bt.Send(); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// aggregatorRate pre-fills a stream with n events, then runs the aggregator
// until all are stored and returns rows/s.
func aggregatorRate(b *testing.B, batch, n int) float64 {
	b.Helper()
	ns := bustest.Start(b)
	ns.InstallStream()
	publish(b, ns.JetStream(), 0, n)
	st := benchStore(b)
	cfg := aggregator.DefaultConfig()
	cfg.BatchSize = batch
	cfg.MaxAckPending = max(4*batch, 20_000)
	reg := prometheus.NewRegistry()
	agg, err := aggregator.New(ns.Conn(), st, cfg, benchLog(), reg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stopProfile := profileAggregator(b, "throughput", batch)
	start := time.Now()
	go func() { done <- agg.Run(ctx) }()
	deadline := start.Add(5 * time.Minute)
	for rowsInserted(b, reg) < float64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("aggregator stored %v of %d rows in 5 minutes", rowsInserted(b, reg), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	stopProfile()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return float64(n) / elapsed.Seconds()
}

// profileAggregator profiles the aggregator's drain alone (not the
// publishing or the raw inserts) when CSPWATCH_BENCH_CPUPROFILE is set: a
// CPU profile to $CSPWATCH_BENCH_CPUPROFILE.<bench>.batch=N.pprof and the
// allocation profiles before and after (.allocs0, .allocs1: compare them with
// pprof -diff_base). A later drain of the same batch size overwrites them.
// The forced collections run outside the timed span.
func profileAggregator(b *testing.B, bench string, batch int) (stop func()) {
	b.Helper()
	prefix := os.Getenv("CSPWATCH_BENCH_CPUPROFILE")
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s.%s.batch=%d.pprof", prefix, bench, batch))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		b.Fatal(err)
	}
	writeAllocs := func(name string) {
		f, err := os.Create(fmt.Sprintf("%s.%s.batch=%d.%s", prefix, bench, batch, name))
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	writeAllocs("allocs0")
	return func() {
		writeAllocs("allocs1")
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func rowsInserted(b *testing.B, reg *prometheus.Registry) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "cspwatch_aggregator_rows_inserted_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// benchLog logs batch timings to stderr when CSPWATCH_BENCH_DEBUG=1.
func benchLog() zerolog.Logger {
	if os.Getenv("CSPWATCH_BENCH_DEBUG") == "1" {
		return zerolog.New(os.Stderr).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	}
	return zerolog.Nop()
}

func median(v []float64) float64 {
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
