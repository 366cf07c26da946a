package aggregator_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/aggregator"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
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
			// Each pair's own ratio is logged (-v) and their median reported
			// too: a pair runs within seconds, so it shares the machine's
			// mood, which drifts by a factor of two over minutes here.
			var raws, aggs, pairs, rawCPU, aggCPU []float64
			for i := range b.N {
				raw, rc := rawInsertRate(b, tc.batch, tc.events)
				agg, ac := aggregatorRate(b, tc.batch, tc.events)
				raws, aggs, pairs = append(raws, raw), append(aggs, agg), append(pairs, agg/raw)
				rawCPU, aggCPU = append(rawCPU, rc.perRow(tc.events)), append(aggCPU, ac.perRow(tc.events))
				b.Logf("pair %d: raw %.0f rows/s (%s), aggregator %.0f rows/s (%s), ratio %.3f",
					i+1, raw, rc.describe(tc.events), agg, ac.describe(tc.events), agg/raw)
			}
			rawRate, aggRate := median(raws), median(aggs)
			b.ReportMetric(rawRate, "raw_rows/s")
			b.ReportMetric(aggRate, "agg_rows/s")
			b.ReportMetric(aggRate/rawRate, "ratio")
			b.ReportMetric(median(pairs), "pair_ratio")
			if median(rawCPU) > 0 {
				b.ReportMetric(median(rawCPU), "raw_cpu_µs/row")
				b.ReportMetric(median(aggCPU), "agg_cpu_µs/row")
			}
			b.ReportMetric(0, "ns/op") // one op is a whole drain; the rates are the result
		})
	}
}

func benchStore(b *testing.B) *store.Store {
	b.Helper()
	return clickhousetest.NewDB(b).Store(b, nil)
}

// rawInsertRate inserts n pre-built rows in batches of size batch with
// plain clickhouse-go, column-wise, and returns rows/s and the CPU it took.
func rawInsertRate(b *testing.B, batch, n int) (float64, cpuUse) {
	b.Helper()
	st := benchStore(b)
	at := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)
	// The columns follow store.Columns (the field table), so the baseline
	// writes the same table the aggregator does, every column included.
	cols := store.Columns()
	index := make(map[string]int, len(cols))
	for i, c := range cols {
		index[c.Name] = i
	}
	newColumn := func(typ string, m int) any {
		switch typ {
		case "String":
			return make([]string, m)
		case "UInt8":
			return make([]uint8, m)
		case "UInt16":
			return make([]uint16, m)
		case "Int64":
			return make([]int64, m)
		case "UInt64":
			return make([]uint64, m)
		case "DateTime":
			return make([]time.Time, m)
		case "Array(String)":
			return make([][]string, m)
		}
		b.Fatalf("raw baseline: no column of type %s", typ)
		return nil
	}
	var batches [][]any
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		m := end - start
		c := make([]any, len(cols))
		for i, col := range cols {
			c[i] = newColumn(col.Type, m)
		}
		str := func(name string) []string { return c[index[name]].([]string) }
		i64 := func(name string) []int64 { return c[index[name]].([]int64) }
		for i := range m {
			e := fleetEvent(start+i, at)
			str("event_id")[i] = e.EventID
			c[index["schema_version"]].([]uint8)[i] = 1
			c[index["received_at"]].([]time.Time)[i] = e.ReceivedAt.Truncate(time.Second)
			c[index["received_ms"]].([]uint16)[i] = uint16(e.ReceivedAt.Nanosecond() / 1e6)
			str("tenant")[i] = e.Tenant
			str("device_id")[i] = e.DeviceID
			str("session_id")[i] = e.SessionID
			str("msg_id")[i] = e.MsgID
			str("kind")[i] = e.Kind
			i64("cmd_id")[i] = e.CmdID
			str("scope")[i] = e.Scope
			str("csp")[i] = e.CSP
			str("target_id")[i] = e.TargetID
			str("node")[i] = e.Node
			i64("code")[i] = e.Code
			str("code_space")[i] = e.CodeSpace
			str("outcome")[i] = e.Outcome
			str("alert_type")[i] = e.AlertType
			c[index["stream_seq"]].([]uint64)[i] = uint64(start + i + 1)
		}
		batches = append(batches, c)
	}
	ctx := context.Background()
	cpu0 := readCPU(b)
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
	elapsed := time.Since(start)
	return float64(n) / elapsed.Seconds(), readCPU(b).since(cpu0)
}

// aggregatorRate pre-fills a stream with n events, then runs the aggregator
// until all are stored and returns rows/s and the CPU it took (the embedded
// nats-server's included: it runs in this process).
func aggregatorRate(b *testing.B, batch, n int) (float64, cpuUse) {
	b.Helper()
	ns := natstest.Start(b)
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
	cpu0 := readCPU(b)
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
	cpu := readCPU(b).since(cpu0)
	stopProfile()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return float64(n) / elapsed.Seconds(), cpu
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

// cpuUse is CPU time, in seconds, of this process and of the ClickHouse
// server: with both sides' costs per row, a benchmark shows whether a rate
// is bounded by the machine's two cores or by waiting.
type cpuUse struct{ self, clickhouse float64 }

func (c cpuUse) since(before cpuUse) cpuUse {
	return cpuUse{c.self - before.self, c.clickhouse - before.clickhouse}
}

// perRow is the microseconds of CPU per row of both together; 0 when the
// ClickHouse server's CPU cannot be read (an external server).
func (c cpuUse) perRow(rows int) float64 {
	if c.clickhouse == 0 {
		return 0
	}
	return (c.self + c.clickhouse) / float64(rows) * 1e6
}

func (c cpuUse) describe(rows int) string {
	return fmt.Sprintf("CPU per row: this process %.2f µs, clickhouse-server %.2f µs",
		c.self/float64(rows)*1e6, c.clickhouse/float64(rows)*1e6)
}

// readCPU reads the CPU time so far of this process (getrusage) and of every
// clickhouse-server process on the machine (/proc/PID/stat, utime + stime,
// in clock ticks of 1/100 s: Linux's USER_HZ on every architecture Go runs
// clickhouse-server on).
func readCPU(b *testing.B) cpuUse {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	use := cpuUse{self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // the process ended
		}
		// pid (comm) state ppid ... field 14 utime, 15 stime; comm may hold
		// spaces, so count from its closing parenthesis.
		open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
		if open < 0 || end < open || !bytes.HasPrefix(data[open+1:end], []byte("clickhouse")) {
			continue
		}
		f := strings.Fields(string(data[end+1:]))
		if len(f) < 13 {
			continue
		}
		ut, err1 := strconv.ParseFloat(f[11], 64)
		st, err2 := strconv.ParseFloat(f[12], 64)
		if err1 == nil && err2 == nil {
			use.clickhouse += (ut + st) / 100
		}
	}
	return use
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
