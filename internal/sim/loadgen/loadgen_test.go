package loadgen

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/ingest"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/sim/fleet"
	"github.com/cspwatch/cspwatch/internal/syncml"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
	"github.com/cspwatch/cspwatch/internal/webhooksig"
)

// startIngest runs ingest over an embedded JetStream for tenant BenchTenant.
func startIngest(t *testing.T) (url string, st jetstream.Stream, ns *natstest.Server) {
	t.Helper()
	ns = natstest.Start(t)
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
	return fleetSource(t, fleet.Config{Devices: devices, Seed: seed})
}

func fleetSource(t *testing.T, cfg fleet.Config) Source {
	t.Helper()
	f, err := fleet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return FromFleet(f)
}

// commandsRouted reports whether the ingest at url routes the server's
// messages (POST /v1/syncml/commands/{tenant}): an unauthenticated request
// is then refused (401), not unknown (404). The endpoint is being added
// alongside this load generator.
func commandsRouted(t *testing.T, url string) bool {
	t.Helper()
	res, err := http.Post(url+CommandsPath+"/"+BenchTenant, "application/vnd.syncml.dm+xml", strings.NewReader("<SyncML/>"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode != http.StatusNotFound
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
		// Why they failed: the first 401's answer, once.
		if e := r.FirstErrors[401]; !strings.HasPrefix(e, "HTTP 401: ") || len(r.FirstErrors) != 1 {
			t.Fatalf("fast client %v: first errors %v, want the 401's answer", fast, r.FirstErrors)
		}
	}
	// A server that does not answer: the transport error, as status 0.
	r, err := Run(context.Background(), Config{URL: "http://127.0.0.1:1", Workers: 1, Count: 1, Retries: 0}, src)
	if err != nil {
		t.Fatal(err)
	}
	if e := r.FirstErrors[0]; r.Errors != 1 || !strings.Contains(e, "connection refused") {
		t.Fatalf("result %+v, want the connect error", r)
	}
}

func TestRawPublish(t *testing.T) {
	ns := natstest.Start(t)
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

// With the server's messages, a run posts each to the commands endpoint,
// signed like the device's, before the device message that answers it
// (after it when the fleet says the copy is late), and counts both kinds;
// the stream ends with exactly the events of both.
func TestRunCountsCommandsExactly(t *testing.T) {
	url, st, _ := startIngest(t)
	if !commandsRouted(t, url) {
		t.Skip("ingest does not route " + CommandsPath + " yet (internal/ingest); the posting itself is tested by TestRunPostsCommands")
	}
	const count = 400
	cfg := fleet.Config{Devices: 50, Seed: 12, Commands: true}
	ref := fleetSource(t, cfg)
	sc := syncml.NewScanner(syncml.DefaultLimits)
	var b normalize.Builder
	want, wantCmdEvents, servers := 0, 0, 0
	for i := 0; i < count; i++ {
		m := ref()
		msg, err := sc.Parse(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		evs, _ := b.Build(msg, normalize.Meta{Tenant: BenchTenant}, nil)
		want += len(evs)
		if m.Command == nil {
			continue
		}
		servers++
		if msg, err = sc.Parse(m.Command); err != nil {
			t.Fatal(err)
		}
		evs, _ = b.BuildCommands(msg, normalize.Meta{Tenant: BenchTenant}, nil)
		wantCmdEvents += len(evs)
	}
	if servers == 0 || wantCmdEvents == 0 {
		t.Fatal("no server message with command events")
	}
	for _, fast := range []bool{false, true} {
		r, err := Run(context.Background(), Config{URL: url, Tenant: BenchTenant, Secret: BenchSecret, Workers: 6, Count: count, FastClient: fast, Gzip: !fast},
			fleetSource(t, cfg))
		if err != nil {
			t.Fatal(err)
		}
		dups := int64(0)
		if fast { // the second run sends the same messages again
			dups = int64(want + wantCmdEvents)
		}
		if r.Messages != count || r.Commands != int64(servers) || r.Errors != 0 || r.Events != int64(want+wantCmdEvents) ||
			r.CommandEvents != int64(wantCmdEvents) || r.Duplicates != dups {
			t.Fatalf("fast client %v: result %+v, want %d device and %d server messages, %d + %d events", fast, r, count, servers, want, wantCmdEvents)
		}
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(want+wantCmdEvents) {
		t.Fatalf("stream holds %d events, want %d", info.State.Msgs, want+wantCmdEvents)
	}
}

// fakeIngest answers every request 200 with an event count, after checking
// its signature, and records what arrived in which order.
type fakeIngest struct {
	mu   sync.Mutex
	seq  int
	reqs map[[32]byte]fakeReq
	bad  []string
}

type fakeReq struct {
	path, id string
	seq      int
}

func (f *fakeIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	body := raw
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			body, err = io.ReadAll(zr)
		}
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
	}
	id, ts := r.Header.Get(ingest.HeaderWebhookID), r.Header.Get(ingest.HeaderWebhookTimestamp)
	t, _ := strconv.ParseInt(ts, 10, 64)
	sig, _ := webhooksig.SignSecret(BenchSecret, id, t, raw)
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get(ingest.HeaderWebhookSignature) != sig || r.Header.Get("Content-Type") != "application/vnd.syncml.dm+xml" {
		f.bad = append(f.bad, r.URL.Path+" "+id)
	}
	f.seq++
	f.reqs[sha256.Sum256(body)] = fakeReq{path: r.URL.Path, id: id, seq: f.seq}
	w.Header().Set("Content-Type", "application/json")
	n := 1 + len(body)%5
	fmt.Fprintf(w, `{"events":%d,"new":%d,"duplicates":0,"skipped":0}`, n, n)
}

// A run posts each server message to the commands endpoint and each device
// message to the device endpoint, both signed, the server's before the
// device's answer unless the fleet marks it late, and counts both kinds.
func TestRunPostsCommands(t *testing.T) {
	const count = 300
	cfg := fleet.Config{Devices: 60, Seed: 21, Commands: true}
	ref := fleetSource(t, cfg)
	msgs := make([]Message, count)
	for i := range msgs {
		msgs[i] = ref()
	}
	for _, fast := range []bool{false, true} {
		fi := &fakeIngest{reqs: map[[32]byte]fakeReq{}}
		srv := httptest.NewServer(fi)
		r, err := Run(context.Background(), Config{URL: srv.URL, Tenant: BenchTenant, Secret: BenchSecret, Workers: 4, Count: count,
			FastClient: fast, Gzip: !fast}, fleetSource(t, cfg))
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(fi.bad) > 0 {
			t.Fatalf("fast client %v: badly signed requests %v", fast, fi.bad)
		}
		servers, late := 0, 0
		for i, m := range msgs {
			dev, ok := fi.reqs[sha256.Sum256(m.Body)]
			if !ok || dev.path != "/v1/syncml/"+BenchTenant {
				t.Fatalf("fast client %v: device message %d posted to %q (%v)", fast, i, dev.path, ok)
			}
			if m.Command == nil {
				continue
			}
			servers++
			cmd, ok := fi.reqs[sha256.Sum256(m.Command)]
			if !ok || cmd.path != CommandsPath+"/"+BenchTenant || cmd.id != dev.id+"_c" {
				t.Fatalf("fast client %v: server message %d posted to %q as %q (%v), its answer as %q", fast, i, cmd.path, cmd.id, ok, dev.id)
			}
			if m.CommandLate {
				late++
			}
			if (cmd.seq < dev.seq) == m.CommandLate {
				t.Fatalf("fast client %v: message pair %d arrived server %d, device %d; late %v", fast, i, cmd.seq, dev.seq, m.CommandLate)
			}
		}
		if late == 0 || late == servers {
			t.Fatalf("%d of %d server messages late", late, servers)
		}
		if r.Messages != count || r.Commands != int64(servers) || r.Errors != 0 || r.CommandEvents == 0 || r.Events <= r.CommandEvents {
			t.Fatalf("fast client %v: result %+v, want %d device and %d server messages", fast, r, count, servers)
		}
		if len(fi.reqs) != count+servers {
			t.Fatalf("%d distinct requests, want %d", len(fi.reqs), count+servers)
		}
	}
}
