package loadgen

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/bus/bustest"
	"github.com/cspwatch/cspwatch/internal/fleet"
	"github.com/cspwatch/cspwatch/internal/ingest"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

// startIngest runs ingest over an embedded JetStream for tenant BenchTenant.
func startIngest(t *testing.T) (url string, st jetstream.Stream, ns *bustest.Server) {
	t.Helper()
	ns = bustest.Start(t)
	st = ns.InstallStream()
	creds, err := ingest.ParseCredentials([]byte(`{"tenants":[{"name":"` + BenchTenant + `","secrets":["` + BenchSecret + `"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ingest.New(ingest.DefaultConfig(), creds, ns.Conn(), zerolog.New(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, nil, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return "http://" + ln.Addr().String(), st, ns
}

// testFleet is the source of the tests: a small synthetic fleet.
func testFleet(t *testing.T, devices int, seed int64) Source {
	t.Helper()
	f, err := fleet.New(fleet.Config{Devices: devices, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return FromFleet(f)
}

// A counted run sends exactly that many messages, and the stream ends with
// exactly the events they yield; the events of messages with a critical
// generic alert carry the MDM-GenericAlert header.
func TestRunCountsExactly(t *testing.T) {
	url, st, _ := startIngest(t)
	const count = 600
	// The same seed twice: one copy to compute what the run must yield.
	want, wantAlerted := 0, 0
	ref := testFleet(t, 50, 11)
	sc := syncml.NewScanner(syncml.DefaultLimits)
	var b normalize.Builder
	for i := 0; i < count; i++ {
		m := ref()
		msg, err := sc.Parse(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		evs, _ := b.Build(msg, normalize.Meta{Tenant: BenchTenant}, nil)
		want += len(evs)
		if m.GenericAlert {
			wantAlerted += len(evs)
		}
	}
	if wantAlerted == 0 {
		t.Fatal("no message with a critical generic alert: the header goes untested")
	}
	r, err := Run(context.Background(), Config{URL: url, Tenant: BenchTenant, Secret: BenchSecret, Workers: 8, Count: count, Gzip: true}, testFleet(t, 50, 11))
	if err != nil {
		t.Fatal(err)
	}
	// The same messages again through the minimal client: all duplicates.
	r2, err := Run(context.Background(), Config{URL: url, Tenant: BenchTenant, Secret: BenchSecret, Workers: 8, Count: count, FastClient: true}, testFleet(t, 50, 11))
	if err != nil {
		t.Fatal(err)
	}
	if r2.Messages != count || r2.Errors != 0 || r2.Events != int64(want) || r2.Duplicates != int64(want) {
		t.Fatalf("fast client replay %+v, want %d messages, %d events all duplicates", r2, count, want)
	}
	if r.Messages != count || r.Errors != 0 || r.Events != int64(want) || r.Duplicates != 0 {
		t.Fatalf("result %+v, want %d messages and %d events", r, count, want)
	}
	if r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 {
		t.Fatalf("latencies p50 %v p99 %v max %v", r.P50, r.P99, r.Max)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(want) {
		t.Fatalf("stream holds %d events, want %d", info.State.Msgs, want)
	}
	cons, err := st.OrderedConsumer(context.Background(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	alerted := 0
	for i := 0; i < want; i++ {
		msg, err := cons.Next()
		if err != nil {
			t.Fatalf("event %d of %d: %v", i, want, err)
		}
		if bytes.Contains(msg.Data(), []byte(`"mdm_generic_alert":"com.microsoft.mdm.win32csp_install"`)) {
			alerted++
		}
	}
	if alerted != wantAlerted {
		t.Fatalf("%d events carry the generic alert header, want %d", alerted, wantAlerted)
	}
}

// A pool serves the messages it made, in order, then makes them live and
// counts those.
func TestPool(t *testing.T) {
	ref, src := testFleet(t, 20, 5), testFleet(t, 20, 5)
	p := NewPool(src)
	p.Fill(1<<30, 10)
	for i := 0; i < 15; i++ {
		if got, want := p.Next(), ref(); !bytes.Equal(got.Body, want.Body) || got.Events != want.Events {
			t.Fatalf("message %d differs from the source's", i)
		}
	}
	if p.Exhausted != 5 {
		t.Fatalf("Exhausted %d, want 5", p.Exhausted)
	}
}

// A wrong secret fails every message, and the failures are counted by status.
func TestRunCountsErrors(t *testing.T) {
	url, _, _ := startIngest(t)
	src := testFleet(t, 5, 1)
	for _, fast := range []bool{false, true} {
		r, err := Run(context.Background(), Config{URL: url, Tenant: BenchTenant, Secret: "not-the-bench-secret-0123", Workers: 2, Count: 10, FastClient: fast}, src)
		if err != nil {
			t.Fatal(err)
		}
		if r.Messages != 0 || r.Errors != 10 || r.ByStatus[401] != 10 {
			t.Fatalf("fast client %v: result %+v, want 10 errors, all 401", fast, r)
		}
	}
}

func TestRawPublish(t *testing.T) {
	ns := bustest.Start(t)
	r, err := RawPublish(context.Background(), RawConfig{URL: ns.URL, Duration: 200 * time.Millisecond, Size: 300, Publishers: 1, MaxPending: 256})
	if err != nil {
		t.Fatal(err)
	}
	if r.Acked == 0 || r.Failed != 0 {
		t.Fatalf("raw %+v", r)
	}
	if _, err := ns.JetStream().Stream(context.Background(), RawStream); err == nil {
		t.Fatal("raw stream left behind")
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{URL: "http://x", Workers: 1, Count: 1}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{
		{Workers: 1, Count: 1},
		{URL: "http://x", Count: 1},
		{URL: "http://x", Workers: 1},
		{URL: "http://x", Workers: 1, Count: 1, Secret: "s"},
		{URL: "http://x", Workers: 1, Count: 1, Tenant: "t", Secret: "s", Token: "t"},
		{URL: "http://x", Workers: 1, Count: 1, Rate: -1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
}
