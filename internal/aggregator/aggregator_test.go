package aggregator_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/aggregator"
	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
)

// TestMain runs the role of a fault test's child process when the binary is
// one (see childMain), the tests otherwise.
func TestMain(m *testing.M) {
	if role := os.Getenv(envChild); role != "" {
		os.Exit(childMain(role))
	}
	os.Exit(clickhousetest.Main(m))
}

// fleetEvent is event i of a synthetic fleet: 200 devices, three MSI
// products and Office, a mix of outcomes.
func fleetEvent(i int, at time.Time) event.Event {
	codes := []struct {
		code    int64
		outcome string
	}{{0, "succeeded"}, {0, "succeeded"}, {1603, "failed"}, {1618, "failed"}, {3010, "succeeded"}}
	c := codes[i%len(codes)]
	csp, target := event.CSPMSI, fmt.Sprintf("PRODUCT-%d", i%3)
	if i%7 == 0 {
		csp, target = event.CSPOffice, "OFFICE-1"
	}
	return event.Event{
		EventID:       fmt.Sprintf("%032x", i+1),
		SchemaVersion: event.SchemaVersion,
		ReceivedAt:    at.Add(time.Duration(i) * time.Millisecond),
		Tenant:        "t1",
		DeviceID:      fmt.Sprintf("device-%03d", i%200),
		SessionID:     "s1",
		MsgID:         "1",
		Kind:          event.KindAlert,
		CmdID:         int64(i%5 + 1),
		Scope:         event.ScopeDevice,
		CSP:           csp,
		TargetID:      target,
		Node:          "DownloadInstall",
		Code:          c.code,
		CodeSpace:     "win32",
		Outcome:       c.outcome,
		AlertType:     normalize.InstallAlertType,
	}
}

// publish puts events [from, to) of the fleet on the stream.
func publish(t testing.TB, js jetstream.JetStream, from, to int) {
	t.Helper()
	at := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)
	var futures []jetstream.PubAckFuture
	for i := from; i < to; i++ {
		e := fleetEvent(i, at)
		msg := nats.NewMsg(string(e.AppendSubject(nil)))
		msg.Data = eventjson.AppendJSON(nil, &e)
		msg.Header.Set(bus.MsgIDHeader, e.EventID)
		f, err := js.PublishMsgAsync(msg)
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
		if len(futures) == 1000 || i == to-1 {
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(30 * time.Second):
				t.Fatal("publish did not complete")
			}
			for _, f := range futures {
				select {
				case err := <-f.Err():
					t.Fatal(err)
				default:
				}
			}
			futures = futures[:0]
		}
	}
}

type env struct {
	nats *natstest.Server
	js   jetstream.JetStream
	db   clickhousetest.DB
	st   *store.Store
}

func newEnv(t *testing.T, ch *clickhousetest.Server) *env {
	t.Helper()
	e := &env{nats: natstest.Start(t)}
	e.nats.InstallStream()
	e.js = e.nats.JetStream()
	if ch != nil {
		e.db = clickhousetest.DB{Addr: ch.Addr, Database: "default"}
	} else {
		e.db = clickhousetest.NewDB(t)
	}
	e.st = e.db.Store(t, func(cfg *store.Config) {
		cfg.DialTimeout = time.Second
		cfg.ReadTimeout = 20 * time.Second
	})
	return e
}

func testConfig() aggregator.Config {
	cfg := aggregator.DefaultConfig()
	cfg.BatchSize = 1000
	cfg.MaxAckPending = 10_000
	cfg.BatchWait = 100 * time.Millisecond
	cfg.AckWait = 3 * time.Second
	cfg.BackoffMin = 50 * time.Millisecond
	cfg.BackoffMax = time.Second
	return cfg
}

// running is an aggregator running in the background.
type running struct {
	agg    *aggregator.Aggregator
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func (e *env) start(t *testing.T, cfg aggregator.Config) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	agg, err := aggregator.New(e.nats.Conn(), e.st, cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{agg: agg, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- agg.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the aggregator and returns Run's error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(time.Minute):
		t.Fatal("aggregator did not stop")
		return nil
	}
}

func (r *running) metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func (e *env) count(t *testing.T, q string) uint64 {
	t.Helper()
	var n uint64
	if err := e.st.Conn().QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// consumerDrained reports whether the consumer has nothing pending or
// unacknowledged.
func (e *env) consumerDrained(t *testing.T) bool {
	t.Helper()
	c, err := e.js.Consumer(context.Background(), bus.StreamName, aggregator.DefaultConfig().Durable)
	if err != nil {
		return false
	}
	info, err := c.Info(context.Background())
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0
}

// checkExactly asserts n events in every table, each once (store.Tally),
// the expected failures in the rollup, and a drained consumer.
func (e *env) checkExactly(t *testing.T, n int) {
	t.Helper()
	testkit.WaitFor(t, 60*time.Second, "consumer drained", func() bool { return e.consumerDrained(t) })
	tl := tallyOf(t, e.st)
	if ok, why := tl.Exact(); !ok || tl.Events != uint64(n) {
		t.Fatalf("want %d events once each: %s %+v", n, why, tl)
	}
	wantFailed := 0
	for i := range n {
		if fleetEvent(i, time.Time{}).Outcome == "failed" {
			wantFailed++
		}
	}
	if got := e.count(t, "SELECT uniqExactMerge(events) FROM install_rollup_hourly WHERE outcome = 'failed'"); got != uint64(wantFailed) {
		t.Fatalf("rollup counts %d failures, want %d", got, wantFailed)
	}
}

func tallyOf(t *testing.T, st *store.Store) store.Tally {
	t.Helper()
	tl, err := st.Tally(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func TestNEventsGiveNRows(t *testing.T) {
	e := newEnv(t, nil)
	const n = 5000
	publish(t, e.js, 0, n)
	r := e.start(t, testConfig())
	e.checkExactly(t, n)
	if got := r.metric(t, "cspwatch_aggregator_rows_inserted_total"); got != n {
		t.Fatalf("rows metric %v, want %d", got, n)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

var errCrash = errors.New("injected crash between insert and ack")

// A crash after the insert and before the ack redelivers the batch; the
// restarted aggregator writes it again, and every table counts it once.
func TestCrashBetweenInsertAndAck(t *testing.T) {
	e := newEnv(t, nil)
	const n = 3000
	publish(t, e.js, 0, n)
	cfg := testConfig()
	cfg.AckWait = time.Second
	var once sync.Once
	cfg.AfterInsert = func(int) error {
		err := error(nil)
		once.Do(func() { err = errCrash })
		return err
	}
	r1 := e.start(t, cfg)
	select {
	case err := <-r1.done:
		if !errors.Is(err, errCrash) {
			t.Fatalf("Run = %v, want the injected crash", err)
		}
		close(r1.done)
	case <-time.After(30 * time.Second):
		t.Fatal("first aggregator did not crash")
	}
	if got := e.count(t, "SELECT count() FROM install_events"); got == 0 {
		t.Fatal("the crashed batch was not inserted; the test tests nothing")
	}
	cfg.AfterInsert = nil
	r2 := e.start(t, cfg)
	e.checkExactly(t, n)
	// The copies may already be merged away, so count what was written.
	if w1, w2 := r1.metric(t, "cspwatch_aggregator_rows_inserted_total"), r2.metric(t, "cspwatch_aggregator_rows_inserted_total"); w1+w2 <= n {
		t.Fatalf("%v + %v rows written for %d events: the redelivered batch was not written again, so the test shows nothing", w1, w2, n)
	}
	if err := r2.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestTwoAggregatorsShareTheConsumer(t *testing.T) {
	e := newEnv(t, nil)
	const n = 20000
	r1 := e.start(t, testConfig())
	r2 := e.start(t, testConfig())
	publish(t, e.js, 0, n)
	e.checkExactly(t, n)
	a, b := r1.metric(t, "cspwatch_aggregator_rows_inserted_total"), r2.metric(t, "cspwatch_aggregator_rows_inserted_total")
	if a+b != n {
		t.Fatalf("aggregators inserted %v + %v rows, want %d in all", a, b, n)
	}
	t.Logf("rows per aggregator: %v, %v", a, b)
}

func TestPoisonMessageIsDeadLettered(t *testing.T) {
	e := newEnv(t, nil)
	const n = 500
	publish(t, e.js, 0, n/2)
	ctx := context.Background()
	poison := map[string][]byte{
		"not json":         []byte(`{"event_id": `),
		"schema version 9": []byte(`{"event_id":"ab","schema_version":9,"tenant":"t1","device_id":"d","kind":"alert","received_at":"2026-11-23T05:00:00.000Z"}`),
	}
	for id, data := range poison {
		if _, err := e.js.Publish(ctx, event.SubjectPrefix+"t1.msi.failed", data, jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}
	publish(t, e.js, n/2, n)
	r := e.start(t, testConfig())
	e.checkExactly(t, n)
	testkit.WaitFor(t, 10*time.Second, "dead letters counted", func() bool {
		return r.metric(t, "cspwatch_aggregator_dead_letters_total") == float64(len(poison))
	})
	dlq, err := e.js.Stream(ctx, bus.DeadLetterStreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := dlq.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(poison)) {
		t.Fatalf("dead-letter stream holds %d messages, want %d", info.State.Msgs, len(poison))
	}
	got := map[string]bool{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := dlq.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != aggregator.DeadLetterSubject(bus.StreamName) || m.Header.Get(aggregator.HeaderReason) == "" ||
			m.Header.Get(aggregator.HeaderOriginalSubject) != event.SubjectPrefix+"t1.msi.failed" {
			t.Fatalf("dead letter %d: subject %s headers %v", seq, m.Subject, m.Header)
		}
		got[string(m.Data)] = true
	}
	for name, data := range poison {
		if !got[string(data)] {
			t.Errorf("poison %q not in the dead-letter stream with its original data", name)
		}
	}
}

// Cancelling Run flushes and acknowledges the open batch.
func TestShutdownFlushesOpenBatch(t *testing.T) {
	e := newEnv(t, nil)
	cfg := testConfig()
	cfg.BatchWait = time.Minute
	r := e.start(t, cfg)
	testkit.WaitFor(t, 10*time.Second, "aggregator ready", r.agg.Ready)
	publish(t, e.js, 0, 10)
	c, err := e.js.Consumer(context.Background(), bus.StreamName, cfg.Durable)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "10 messages fetched", func() bool {
		info, err := c.Info(context.Background())
		return err == nil && info.NumAckPending == 10
	})
	if got := e.count(t, "SELECT count() FROM install_events"); got != 0 {
		t.Fatalf("%d rows before shutdown; the batch should still be open", got)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	e.checkExactly(t, 10)
}

// ClickHouse stopped mid-stream: the aggregator holds its batches alive,
// inserts once ClickHouse is back, and ends with exactly N rows.
func TestClickHouseDownMidStream(t *testing.T) {
	ch := clickhousetest.Start(t)
	e := newEnv(t, ch)
	const n = 6000
	down := 30 * time.Second
	if testing.Short() {
		down = 3 * time.Second
	}
	// InProgress goes out every third of AckWait: 10 s leaves a loaded
	// machine seconds of slack before a held batch could be redelivered.
	cfg := testConfig()
	cfg.AckWait = 10 * time.Second
	r := e.start(t, cfg)
	publish(t, e.js, 0, n/2)
	testkit.WaitFor(t, 30*time.Second, "first half stored", func() bool {
		return e.count(t, "SELECT count() FROM install_events") == n/2
	})
	ch.Stop()
	publish(t, e.js, n/2, n)
	testkit.WaitFor(t, 30*time.Second, "a failed insert", func() bool {
		return r.metric(t, "cspwatch_aggregator_insert_errors_total") > 0
	})
	if r.agg.Ready() {
		t.Fatal("ready while ClickHouse is down")
	}
	time.Sleep(down) // the outage itself is what is tested
	ch.Start()
	e.checkExactly(t, n)
	testkit.WaitFor(t, 10*time.Second, "ready again", r.agg.Ready)
	// InProgress kept the held batches: nothing was redelivered.
	if got := r.metric(t, "cspwatch_aggregator_redeliveries_total"); got != 0 {
		t.Errorf("%v redeliveries during the outage; InProgress did not keep the batches", got)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*aggregator.Config)
		ok     bool
	}{
		{"defaults", func(*aggregator.Config) {}, true},
		{"zero batch", func(c *aggregator.Config) { c.BatchSize = 0 }, false},
		{"no wait", func(c *aggregator.Config) { c.BatchWait = 0 }, false},
		{"max deliver 1", func(c *aggregator.Config) { c.MaxDeliver = 1 }, false},
		{"max deliver 0", func(c *aggregator.Config) { c.MaxDeliver = 0 }, false},
		{"max deliver 2", func(c *aggregator.Config) { c.MaxDeliver = 2 }, true},
		{"max deliver unbounded", func(c *aggregator.Config) { c.MaxDeliver = -1 }, true},
		{"no ready timeout", func(c *aggregator.Config) { c.ReadyTimeout = 0 }, false},
		{"ack pending below two batches", func(c *aggregator.Config) { c.MaxAckPending = c.BatchSize }, false},
		{"backoff inverted", func(c *aggregator.Config) { c.BackoffMax = c.BackoffMin / 2 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := aggregator.DefaultConfig()
			tt.change(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// exhaustDeliveries publishes event 0 and fetches it twice without an
// acknowledgement, as a process crashing before its insert would, so that
// the server gives up on it with a bound of 2.
func exhaustDeliveries(t *testing.T, e *env, cfg aggregator.Config) {
	t.Helper()
	cons, err := e.js.CreateOrUpdateConsumer(context.Background(), bus.StreamName, cfg.ConsumerConfig())
	if err != nil {
		t.Fatal(err)
	}
	publish(t, e.js, 0, 1)
	for delivery := 1; delivery <= 2; delivery++ {
		testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("delivery %d", delivery), func() bool {
			msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(200*time.Millisecond))
			if err != nil {
				return false
			}
			n := 0
			for range msgs.Messages() {
				n++ // not acknowledged: a crash
			}
			return n == 1
		})
	}
}

// A message that ran out of deliveries elsewhere and is not in ClickHouse is
// dead-lettered from the server's max-deliveries advisory.
func TestMaxDeliveriesAreDeadLettered(t *testing.T) {
	e := newEnv(t, nil)
	cfg := testConfig()
	cfg.MaxDeliver = 2
	cfg.AckWait = time.Second
	ctx := context.Background()
	exhaustDeliveries(t, e, cfg)
	r := e.start(t, cfg)
	testkit.WaitFor(t, 20*time.Second, "max-deliveries dead letter", func() bool {
		return r.metric(t, "cspwatch_aggregator_dead_letters_total") == 1
	})
	dlq, err := e.js.Stream(ctx, bus.DeadLetterStreamName)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dlq.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := fleetEvent(0, time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC))
	if m.Header.Get(aggregator.HeaderReason) != "max deliveries" || m.Header.Get(aggregator.HeaderStreamSeq) != "1" ||
		string(m.Data) != string(eventjson.AppendJSON(nil, &want)) {
		t.Fatalf("dead letter headers %v data %s", m.Header, m.Data)
	}
	if got := e.count(t, "SELECT count() FROM install_events"); got != 0 {
		t.Fatalf("%d rows: the message was never inserted", got)
	}
}

// An event the server gave up on that ClickHouse holds (the aggregator that
// stored it crashed before its acknowledgement, again and again) is not
// dead-lettered: it is stored, and a dead letter would be a false alarm.
func TestMaxDeliveriesOfStoredEventsAreNotDeadLettered(t *testing.T) {
	e := newEnv(t, nil)
	cfg := testConfig()
	cfg.MaxDeliver = 2
	cfg.AckWait = time.Second
	ev := fleetEvent(0, time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC))
	if err := e.st.InsertRows(context.Background(), []store.Row{{Event: ev, Seq: 1}}); err != nil {
		t.Fatal(err)
	}
	exhaustDeliveries(t, e, cfg)
	r := e.start(t, cfg)
	testkit.WaitFor(t, 20*time.Second, "the advisory handled", func() bool {
		return r.metric(t, "cspwatch_aggregator_max_deliveries_stored_total") == 1
	})
	if got := r.metric(t, "cspwatch_aggregator_dead_letters_total"); got != 0 {
		t.Fatalf("%v dead letters, want 0", got)
	}
	if tl := tallyOf(t, e.st); tl.Events != 1 {
		t.Fatalf("tally %+v, want the one event", tl)
	}
}

// checkAcked asserts that ClickHouse holds exactly the acknowledged event
// ids: every id once in every table (store.Tally), and no id that JetStream
// never acknowledged. It polls until the tables hold as many events as were
// acknowledged or the deadline passes, since the last batch may still be on
// its way.
func checkAcked(t *testing.T, st *store.Store, acked map[string]struct{}) {
	t.Helper()
	ctx := context.Background()
	want := uint64(len(acked))
	var tl store.Tally
	testkit.WaitFor(t, 90*time.Second, fmt.Sprintf("the %d acknowledged events stored", want), func() bool {
		tl = tallyOf(t, st)
		return tl.Events >= want
	})
	if ok, why := tl.Exact(); !ok || tl.Events != want {
		t.Fatalf("want the %d acknowledged events once each: %s %+v", want, why, tl)
	}
	rs, err := st.Conn().Query(ctx, "SELECT event_id FROM install_events FINAL")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, ok := acked[id]; !ok {
			t.Fatalf("event %s is stored but was never acknowledged by JetStream", id)
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged events stored once each; %d rows written before merges", tl.Events, tl.Stored)
}

// An event republished through ingest after the stream's duplicate window
// has a new received_at, so idempotent storage keeps it as a second row;
// --check-all, looking back far enough, drops it.
func TestCheckAllDropsAnEventRepublishedLater(t *testing.T) {
	for _, tt := range []struct {
		name      string
		checkAll  bool
		wantDupID uint64
	}{{"without check-all a second row", false, 1}, {"with check-all one row", true, 0}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			at := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)
			first := fleetEvent(0, at)
			again := first
			again.ReceivedAt = at.Add(2 * time.Hour) // ingest stamps the retry anew
			cfg := testConfig()
			cfg.CheckAll = tt.checkAll
			r := e.start(t, cfg)
			for i, ev := range []event.Event{first, again} {
				msg := nats.NewMsg(string(ev.AppendSubject(nil)))
				msg.Data = eventjson.AppendJSON(nil, &ev)
				msg.Header.Set(bus.MsgIDHeader, fmt.Sprintf("%s-%d", ev.EventID, i)) // outside the window: a new message id
				if _, err := e.js.PublishMsg(context.Background(), msg); err != nil {
					t.Fatal(err)
				}
				testkit.WaitFor(t, 30*time.Second, "event stored", func() bool { return e.consumerDrained(t) && tallyOf(t, e.st).Stored >= 1 })
			}
			testkit.WaitFor(t, 30*time.Second, "both handled", func() bool {
				return r.metric(t, "cspwatch_aggregator_messages_acked_total") == 2
			})
			if tl := tallyOf(t, e.st); tl.Distinct != 1 || tl.DuplicateIDs != tt.wantDupID {
				t.Fatalf("%+v, want 1 distinct id and %d stored twice", tl, tt.wantDupID)
			}
		})
	}
}
