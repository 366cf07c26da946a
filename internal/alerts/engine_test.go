package alerts_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/alerts/sink"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
)

func TestMain(m *testing.M) { os.Exit(clickhousetest.Main(m)) }

// fakeClock is a manual Clock: time moves only when a test sets it, and
// After fires when the clock passes its deadline.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

// Set moves the clock to t and fires the waiters it passes.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	c.waiters = slices.DeleteFunc(c.waiters, func(w fakeWaiter) bool {
		if w.at.After(t) {
			return false
		}
		w.ch <- t
		return true
	})
}

// waiting is the number of After channels not yet fired.
func (c *fakeClock) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// hookServer is an httptest generic-webhook receiver that answers 503 to
// its first failFirst requests (or to all while failAll).
type hookServer struct {
	*httptest.Server
	mu        sync.Mutex
	reqs      []hookReq
	failFirst int
	failAll   bool
}

type hookReq struct {
	header http.Header
	body   []byte
	status int
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		status := http.StatusNoContent
		if h.failAll || len(h.reqs) < h.failFirst {
			status = http.StatusServiceUnavailable
		}
		h.reqs = append(h.reqs, hookReq{r.Header.Clone(), body, status})
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) requests() []hookReq {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

func (h *hookServer) setFailFirst(n int) {
	h.mu.Lock()
	h.failFirst = n
	h.mu.Unlock()
}

func (h *hookServer) setFailAll(v bool) {
	h.mu.Lock()
	h.failAll = v
	h.mu.Unlock()
}

// delivered returns the alerts of the requests answered 2xx.
func (h *hookServer) delivered(t *testing.T) []alerts.Alert {
	t.Helper()
	var out []alerts.Alert
	for _, r := range h.requests() {
		if r.status >= 300 {
			continue
		}
		var msg struct {
			Type string       `json:"type"`
			Data alerts.Alert `json:"data"`
		}
		if err := json.Unmarshal(r.body, &msg); err != nil {
			t.Fatalf("webhook body: %v", err)
		}
		if msg.Type != "cspwatch.alert.spike."+string(msg.Data.Status) {
			t.Errorf("webhook type %q for status %s", msg.Type, msg.Data.Status)
		}
		out = append(out, msg.Data)
	}
	return out
}

const hookSecret = "test-secret-0123456789"

// verifySignature checks a Standard Webhooks signature independently of
// sign().
func verifySignature(secret string, h http.Header, body []byte) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "."))
	m.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// rig is one test's ClickHouse database, NATS server, webhook receiver and
// manual clock, shared by the engines (replicas) it starts.
type rig struct {
	t      *testing.T
	ctx    context.Context
	js     jetstream.JetStream
	st     *store.Store
	hook   *hookServer
	clock  *fakeClock
	events []event.Event
	seq    int
}

func newRig(t *testing.T) *rig {
	ns := natstest.Start(t)
	st := clickhousetest.NewDB(t).Store(t, nil)
	return &rig{t: t, ctx: t.Context(), js: ns.JetStream(), st: st, hook: newHookServer(t), clock: newFakeClock(settleOf(29))}
}

// The timeline: bucket i is [t0 + i min, t0 + i+1 min); it is evaluated
// once the clock passes its end plus the lateness.
const (
	testBucket   = time.Minute
	testLateness = 10 * time.Second
)

func bucketStart(i int) time.Time { return alerts.T0.Add(time.Duration(i) * testBucket) }
func settleOf(i int) time.Time    { return bucketStart(i + 1).Add(testLateness) }

func engineConfig(replica, hookURL string) alerts.Config {
	c := alerts.DefaultConfig()
	c.Replica = replica
	c.Bucket, c.Lateness = testBucket, testLateness
	c.Window, c.WarmUp, c.HalfLife = 2*time.Hour, 10*time.Minute, 30*time.Minute
	c.Cooldown, c.ClaimLease = 2*time.Minute, time.Minute
	c.WebhookURL, c.WebhookSecret = hookURL, hookSecret
	c.NotifyAttempts, c.NotifyBackoff, c.NotifyMaxBackoff = 3, time.Millisecond, 5*time.Millisecond
	return c
}

// replica is one engine and what a test reads of it.
type replica struct {
	*alerts.Engine
	reg *prometheus.Registry
	// ctx ends when the test ends or cancel is called (the process stops).
	ctx    context.Context
	cancel context.CancelFunc
}

func (r *rig) engine(name string, cfg alerts.Config) *replica {
	r.t.Helper()
	sinks, err := sink.FromConfig(cfg, r.js, r.st, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	e, err := alerts.NewEngine(alerts.EngineOptions{Config: cfg, Source: alerts.ClickHouseSource{Store: r.st}, JetStream: r.js,
		Sinks: sinks, Clock: r.clock, Log: zerolog.New(&logs).With().Str("replica", name).Logger(), Registerer: reg})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(r.ctx)
	r.t.Cleanup(func() {
		cancel()
		if r.t.Failed() {
			r.t.Logf("log of replica %s:\n%s", name, logs.String())
		}
	})
	return &replica{Engine: e, reg: reg, ctx: ctx, cancel: cancel}
}

// started returns an engine that has replayed the window and reconciled.
func (r *rig) started(name string, cfg alerts.Config) *replica {
	r.t.Helper()
	e := r.engine(name, cfg)
	if err := e.Start(e.ctx); err != nil {
		r.t.Fatal(err)
	}
	e.Drain()
	return e
}

// evaluate moves the clock past bucket i and steps every replica, all at
// once, then waits for their deliveries.
func (r *rig) evaluate(i int, replicas ...*replica) {
	r.t.Helper()
	r.clock.Set(settleOf(i))
	errs := make([]error, len(replicas))
	var wg sync.WaitGroup
	for j, e := range replicas {
		wg.Go(func() { errs[j] = e.Step(e.ctx) })
	}
	wg.Wait()
	for _, e := range replicas {
		e.Drain()
	}
	for _, err := range errs {
		if err != nil {
			r.t.Fatalf("bucket %d: %v", i, err)
		}
	}
}

// fail adds n failed install attempts of code on target/version in bucket
// i, from devs devices named prefix-k: each the server's install command
// (an MSI DownloadInstall Exec with its MsiInstallJob, an Office install
// Exec with its configuration) then, half a second later, the device's
// failed install alert. n/devs attempts per device, each with its own
// command, a second or more apart.
func (r *rig) fail(i int, csp, target, version string, space codes.Space, code int64, n, devs int, prefix string) {
	names := map[int64]string{1603: "ERROR_INSTALL_FAILURE", 1618: "ERROR_INSTALL_ALREADY_RUNNING", 1620: "ERROR_INSTALL_PACKAGE_INVALID"}
	for j := range n {
		at := bucketStart(i).Add(time.Duration(j%59) * time.Second)
		device := fmt.Sprintf("%s-%d", prefix, j%devs)
		r.seq++
		cmd := event.Event{
			EventID: fmt.Sprintf("%032x", r.seq), SchemaVersion: 1, ReceivedAt: at,
			Tenant: "contoso", DeviceID: device, SessionID: fmt.Sprint(r.seq), MsgID: "1", CmdIDRaw: "7",
			Kind: event.KindCommand, Command: event.CommandExec, Scope: event.ScopeDevice, CSP: csp, TargetID: target,
			Node: "DownloadInstall", Outcome: event.OutcomeRequested, MSIJob: &event.MSIJob{ProductVersion: version},
		}
		if csp == event.CSPOffice {
			cmd.Node, cmd.MSIJob, cmd.OfficeConfig = "Install", nil, &event.OfficeConfig{Version: version}
		}
		r.seq++
		r.events = append(r.events, cmd, event.Event{
			EventID: fmt.Sprintf("%032x", r.seq), SchemaVersion: 1, ReceivedAt: at.Add(500 * time.Millisecond),
			Tenant: "contoso", DeviceID: device, SessionID: fmt.Sprint(r.seq), MsgID: "1",
			Kind: event.KindAlert, Scope: event.ScopeDevice, CSP: csp, TargetID: target, Node: "DownloadInstall",
			Code: code, CodeSpace: string(space), CodeName: names[code], Outcome: "failed", Category: "unknown",
			Product: &event.Product{Name: "Product " + target, Version: version},
		})
	}
}

// background is a steady fleet over buckets [from, to]: a little 1603 and
// 1618 on two MSI products, and Office 17002 at a high steady rate.
func (r *rig) background(from, to int) {
	for i := from; i <= to; i++ {
		r.fail(i, event.CSPMSI, "{BG}", "1.0", codes.SpaceWin32, 1603, 2, 2, "bg")
		r.fail(i, event.CSPMSI, "{BG2}", "3.0", codes.SpaceWin32, 1618, 1, 1, "bg2")
		r.fail(i, event.CSPOffice, "OFFICE", "16.0", codes.SpaceOfficeStatus, 17002, 30, 15, "office")
	}
}

// spike adds a 1603 spike on {BAD} 2.1, 40 failures on 25 devices per
// bucket.
func (r *rig) spike(from, to int) {
	for i := from; i <= to; i++ {
		r.fail(i, event.CSPMSI, "{BAD}", "2.1", codes.SpaceWin32, 1603, 40, 25, "bad")
	}
}

// flush inserts the events added so far.
func (r *rig) flush() {
	r.t.Helper()
	if err := r.st.InsertEvents(r.ctx, r.events); err != nil {
		r.t.Fatal(err)
	}
	r.events = nil
}

func (r *rig) subjectMessages() uint64 {
	r.t.Helper()
	s, err := r.js.Stream(r.ctx, bus.AlertStreamName)
	if err != nil {
		r.t.Fatal(err)
	}
	subj := alerts.Subject("contoso")
	info, err := s.Info(r.ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		r.t.Fatal(err)
	}
	return info.State.Subjects[subj]
}

func (r *rig) lastOnSubject() alerts.Alert {
	r.t.Helper()
	s, err := r.js.Stream(r.ctx, bus.AlertStreamName)
	if err != nil {
		r.t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(r.ctx, alerts.Subject("contoso"))
	if err != nil {
		r.t.Fatal(err)
	}
	var a alerts.Alert
	if err := json.Unmarshal(m.Data, &a); err != nil {
		r.t.Fatal(err)
	}
	return a
}

// tableRows counts the alerts table's rows of a status, without FINAL: a
// duplicate delivery would show as a second row until a merge.
func (r *rig) tableRows(status alerts.Status) uint64 {
	r.t.Helper()
	var n uint64
	if err := r.st.Conn().QueryRow(r.ctx, "SELECT count() FROM alerts WHERE status = ?", string(status)).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// check states how many transitions each sink must have received.
func (r *rig) check(when string, firing, resolved int) {
	r.t.Helper()
	var hf, hr int
	for _, a := range r.hook.delivered(r.t) {
		if a.Status == alerts.Firing {
			hf++
		} else {
			hr++
		}
	}
	if hf != firing || hr != resolved {
		r.t.Errorf("%s: webhook got %d firing and %d resolved, want %d and %d", when, hf, hr, firing, resolved)
	}
	if got := r.subjectMessages(); got != uint64(firing+resolved) {
		r.t.Errorf("%s: %d messages on %s, want %d", when, got, alerts.Subject("contoso"), firing+resolved)
	}
	if f, rs := r.tableRows(alerts.Firing), r.tableRows(alerts.Resolved); f != uint64(firing) || rs != uint64(resolved) {
		r.t.Errorf("%s: alerts table has %d firing and %d resolved rows, want %d and %d", when, f, rs, firing, resolved)
	}
}

// metric returns the value of a counter or gauge with the given labels.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

func TestEngineSpikeFiresOnceThenResolves(t *testing.T) {
	r := newRig(t)
	r.background(0, 40)
	r.spike(30, 32)
	r.flush()
	e := r.started("a", engineConfig("a", r.hook.URL))
	r.check("after replaying a steady background", 0, 0)

	r.evaluate(30, e)
	r.check("the spike's first bucket", 1, 0)
	a := r.hook.delivered(t)[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"level", a.Level, alerts.LevelProduct},
		{"tenant", a.Tenant, "contoso"},
		{"csp", a.CSP, event.CSPMSI},
		{"target", a.TargetID, "{BAD}"},
		{"product name", a.ProductName, "Product {BAD}"},
		{"product version", a.ProductVersion, "2.1"},
		{"code", a.Code, int64(1603)},
		{"code name", a.CodeName, "ERROR_INSTALL_FAILURE"},
		{"attempts", a.Attempts, uint64(40)},
		{"devices", a.Devices, uint64(25)},
		{"finished (every attempt of {BAD} 2.1 failed)", a.Finished, uint64(40)},
		{"severity", a.Severity, alerts.Critical},
		{"advice", a.Advice, codes.Classify(codes.SpaceWin32, 1603).Advice},
		{"samples", len(a.SampleDevices), 3},
		{"first seen", a.FirstSeen, bucketStart(30)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, d := range a.SampleDevices {
		if !strings.HasPrefix(d, "bad-") {
			t.Errorf("sample device %q is not one of the spike's", d)
		}
	}
	if !strings.Contains(a.Query, "target_id = '{BAD}'") {
		t.Errorf("detail query lacks the product:\n%s", a.Query)
	}
	// The detail query runs as printed and lists the spike's failed
	// attempts since one bucket before it fired: those of buckets 30 to 32,
	// all on the spike's devices.
	var listed, devices uint64
	if err := r.st.Conn().QueryRow(r.ctx, "SELECT count(), uniqExact(device_id) FROM ("+a.Query+")").Scan(&listed, &devices); err != nil {
		t.Fatalf("detail query: %v\n%s", err, a.Query)
	}
	if listed != 3*a.Attempts || devices != a.Devices {
		t.Errorf("detail query lists %d attempts on %d devices, want 3 buckets of %d on %d", listed, devices, a.Attempts, a.Devices)
	}
	if got := r.lastOnSubject(); got.ID != a.ID || got.Status != alerts.Firing {
		t.Errorf("subject holds %s %s, want %s firing", got.ID, got.Status, a.ID)
	}

	for i := 31; i <= 33; i++ {
		r.evaluate(i, e)
	}
	r.check("while the spike lasts and one quiet bucket", 1, 0)
	for i := 34; i <= 38; i++ {
		r.evaluate(i, e)
	}
	r.check("after the cooldown", 1, 1)
	res := r.hook.delivered(t)[1]
	if res.ID != a.ID || res.Status != alerts.Resolved || res.Peak != 40 || !res.ResolvedAt.Equal(bucketStart(35)) {
		t.Errorf("resolve %s %s peak %d resolved at %v, want %s resolved peak 40 at %v", res.ID, res.Status, res.Peak, res.ResolvedAt, a.ID, bucketStart(35))
	}
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"cspwatch_alerts_fired_total", []string{"level", "product"}, 1},
		{"cspwatch_alerts_fired_total", []string{"level", "code"}, 0},
		{"cspwatch_alerts_resolved_total", []string{"level", "product"}, 1},
		{"cspwatch_alerts_deliveries_total", []string{"sink", "webhook", "result", "delivered"}, 2},
		{"cspwatch_alerts_deliveries_total", []string{"sink", "clickhouse", "result", "delivered"}, 2},
		{"cspwatch_alerts_deliveries_total", []string{"sink", "jetstream", "result", "delivered"}, 2},
		{"cspwatch_alerts_errors_total", []string{"stage", "claim"}, 0},
		{"cspwatch_alerts_open", nil, 0},
	} {
		if got := metric(t, e.reg, m.name, m.labels...); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.want)
		}
	}
}

// Run itself, driven by the manual clock: it waits for each bucket to
// settle, evaluates it and delivers.
func TestEngineRunWaitsForEachBucket(t *testing.T) {
	r := newRig(t)
	r.background(0, 35)
	r.spike(30, 31)
	r.flush()
	e := r.engine("a", engineConfig("a", r.hook.URL))
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	testkit.WaitFor(t, 20*time.Second, "Run to wait for bucket 30", func() bool { return r.clock.waiting() > 0 })
	r.check("started", 0, 0)
	r.clock.Set(settleOf(30).Add(-time.Second))
	if r.clock.waiting() != 1 {
		t.Fatal("Run evaluated bucket 30 before its lateness passed")
	}
	r.clock.Set(settleOf(30))
	testkit.WaitFor(t, 20*time.Second, "the firing alert at the webhook", func() bool { return len(r.hook.delivered(t)) == 1 })
	testkit.WaitFor(t, 20*time.Second, "Run to wait for bucket 31", func() bool { return r.clock.waiting() > 0 })
	e.Drain()
	r.check("bucket 30", 1, 0)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil at shutdown", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestEngineTwoReplicasDeliverOnce(t *testing.T) {
	r := newRig(t)
	r.background(0, 40)
	r.spike(30, 32)
	r.flush()
	a := r.started("a", engineConfig("a", r.hook.URL))
	b := r.started("b", engineConfig("b", r.hook.URL))
	r.evaluate(30, a, b)
	r.check("two replicas, spike's first bucket", 1, 0)
	for i := 31; i <= 38; i++ {
		r.evaluate(i, a, b)
	}
	r.check("two replicas, after the cooldown", 1, 1)
	sum := func(name string) float64 {
		return metric(t, a.reg, name, "level", "product") + metric(t, b.reg, name, "level", "product")
	}
	if f, rs := sum("cspwatch_alerts_fired_total"), sum("cspwatch_alerts_resolved_total"); f != 1 || rs != 1 {
		t.Errorf("fired %v resolved %v over both replicas, want 1 and 1", f, rs)
	}
	if lost := metric(t, a.reg, "cspwatch_alerts_claims_lost_total") + metric(t, b.reg, "cspwatch_alerts_claims_lost_total"); lost > 2 {
		t.Errorf("%v claims lost, want at most one per transition", lost)
	}
}

func TestEngineRestartMidSpikeSendsNothingTwice(t *testing.T) {
	r := newRig(t)
	r.background(0, 40)
	r.spike(30, 33)
	r.flush()
	a := r.started("a", engineConfig("a", r.hook.URL))
	r.evaluate(30, a)
	r.check("before the restart", 1, 0)
	a.cancel() // the process stops

	r.clock.Set(settleOf(31))
	b := r.started("a-restarted", engineConfig("a-restarted", r.hook.URL))
	if open := b.Detector().Open(); len(open) != 1 || open[0].ID != r.hook.delivered(t)[0].ID {
		t.Fatalf("after the replay the detector holds %v open, want the delivered alert", open)
	}
	r.check("after the restart", 1, 0)
	for i := 32; i <= 34; i++ {
		r.evaluate(i, b)
	}
	r.check("spike continues after the restart", 1, 0)
	for i := 35; i <= 38; i++ {
		r.evaluate(i, b)
	}
	r.check("after the cooldown", 1, 1)
}

// A restart after the spike ended with no replica running sends the resolve
// at start.
func TestEngineRestartAfterSpikeEndedResolves(t *testing.T) {
	r := newRig(t)
	r.background(0, 40)
	r.spike(30, 31)
	r.flush()
	a := r.started("a", engineConfig("a", r.hook.URL))
	r.evaluate(30, a)
	a.cancel()
	r.clock.Set(settleOf(38))
	r.started("b", engineConfig("b", r.hook.URL))
	r.check("restart after the spike ended", 1, 1)
}

func TestEngineWebhookFailingTwiceDeliversOnThirdTry(t *testing.T) {
	r := newRig(t)
	r.hook.setFailFirst(2)
	r.background(0, 40)
	r.spike(30, 31)
	r.flush()
	e := r.started("a", engineConfig("a", r.hook.URL))
	r.evaluate(30, e)
	reqs := r.hook.requests()
	if len(reqs) != 3 {
		t.Fatalf("webhook got %d requests, want 3", len(reqs))
	}
	for i, q := range reqs {
		if want := []int{503, 503, 204}[i]; q.status != want {
			t.Errorf("request %d answered %d, want %d", i, q.status, want)
		}
		if q.header.Get("webhook-id") != reqs[0].header.Get("webhook-id") {
			t.Errorf("request %d has webhook-id %q, want the first's %q", i, q.header.Get("webhook-id"), reqs[0].header.Get("webhook-id"))
		}
		if !verifySignature(hookSecret, q.header, q.body) {
			t.Errorf("request %d: signature %q does not verify", i, q.header.Get("webhook-signature"))
		}
	}
	if verifySignature("another-secret-0123456789", reqs[2].header, reqs[2].body) {
		t.Error("the signature verifies under another secret")
	}
	r.check("third try", 1, 0)
	for _, m := range []struct {
		result string
		want   float64
	}{{"retried", 2}, {"delivered", 1}, {"failed", 0}} {
		if got := metric(t, e.reg, "cspwatch_alerts_deliveries_total", "sink", "webhook", "result", m.result); got != m.want {
			t.Errorf("webhook deliveries %s = %v, want %v", m.result, got, m.want)
		}
	}
	delivered := r.hook.delivered(t)[0]
	rec, err := e.StateRecord(r.ctx, alerts.StateKey(alerts.KeyFromAlert(&delivered)))
	if err != nil || rec == nil || len(rec.Pending) != 0 {
		t.Fatalf("state record %+v (err %v), want nothing pending", rec, err)
	}
}

// A replica that claimed an alert and died before its webhook answered: the
// other replica delivers it once the claim lease has passed, not before.
func TestEngineTakesOverUnfinishedDelivery(t *testing.T) {
	r := newRig(t)
	r.background(0, 40)
	r.spike(30, 33)
	r.flush()
	cfg := engineConfig("a", r.hook.URL)
	cfg.NotifyAttempts = 1
	a := r.started("a", cfg)
	b := r.started("b", engineConfig("b", r.hook.URL))
	r.hook.setFailAll(true)
	r.evaluate(30, a)
	a.cancel() // a dies with its webhook delivery pending
	r.hook.setFailAll(false)
	if got := len(r.hook.delivered(t)); got != 0 {
		t.Fatalf("webhook got %d alerts while failing", got)
	}
	r.clock.Set(settleOf(30).Add(cfg.ClaimLease / 2))
	if err := b.Step(b.ctx); err != nil {
		t.Fatal(err)
	}
	b.Drain()
	if got := len(r.hook.delivered(t)); got != 0 {
		t.Fatalf("delivery taken over before the lease passed (%d)", got)
	}
	r.evaluate(31, b)
	got := r.hook.delivered(t)
	if len(got) != 1 || got[0].Status != alerts.Firing || got[0].TargetID != "{BAD}" {
		t.Fatalf("webhook got %v after the lease, want the firing alert once", got)
	}
	r.check("taken over", 1, 0)
	if ids := r.hook.requests(); ids[0].header.Get("webhook-id") != ids[len(ids)-1].header.Get("webhook-id") {
		t.Error("the taken-over delivery has another webhook-id")
	}
}

func TestEngineCodeLevelSpikeAcrossProducts(t *testing.T) {
	r := newRig(t)
	r.background(0, 40)
	for i := 30; i <= 31; i++ {
		for p := range 20 {
			// Three failures on three devices per product: under every
			// product threshold.
			r.fail(i, event.CSPMSI, fmt.Sprintf("{M%02d}", p), "1.0", codes.SpaceWin32, 1620, 3, 3, fmt.Sprintf("m%02d", p))
		}
	}
	r.flush()
	e := r.started("a", engineConfig("a", r.hook.URL))
	r.evaluate(30, e)
	r.evaluate(31, e)
	got := r.hook.delivered(t)
	if len(got) != 1 {
		t.Fatalf("webhook got %d alerts, want 1", len(got))
	}
	a := got[0]
	if a.Level != alerts.LevelCode || a.Code != 1620 || a.TargetID != "" || a.CSP != "" || a.Attempts != 60 || a.Devices != 60 {
		t.Errorf("alert %s code %d csp %q target %q attempts %d devices %d, want code-level 1620 with 60 attempts on 60 devices",
			a.Level, a.Code, a.CSP, a.TargetID, a.Attempts, a.Devices)
	}
	if !strings.Contains(a.Summary, "all products") || strings.Contains(a.Query, "target_id =") {
		t.Errorf("code-level alert names a product: %q\n%s", a.Summary, a.Query)
	}
}

// syncBuffer is a goroutine-safe log destination.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A delivery that keeps failing is retried at every bucket and abandoned
// (counted) after the retention; the resolved state is then purged.
func TestEngineStateExpiresAfterRetention(t *testing.T) {
	r := newRig(t)
	r.background(0, 50)
	r.spike(30, 31)
	r.flush()
	cfg := engineConfig("a", r.hook.URL)
	cfg.NotifyAttempts, cfg.Retention = 1, 10*time.Minute
	e := r.started("a", cfg)
	r.hook.setFailAll(true)
	for i := 30; i <= 34; i++ {
		r.evaluate(i, e)
	}
	tries := len(r.hook.requests())
	if tries < 5 {
		t.Errorf("the failing webhook was tried %d times over 5 buckets, want once per bucket at least", tries)
	}
	k := alerts.Key{Level: alerts.LevelProduct, Tenant: "contoso", CSP: event.CSPMSI, Space: codes.SpaceWin32, Code: 1603, Target: "{BAD}", Version: "2.1"}
	rec, err := e.StateRecord(r.ctx, alerts.StateKey(k))
	if err != nil || rec == nil || rec.Alert.Status != alerts.Resolved || !slices.Equal(rec.Pending, []string{"webhook"}) {
		t.Fatalf("state %+v (err %v), want the resolve pending for the webhook", rec, err)
	}
	r.evaluate(45, e) // more than the retention after the resolve
	if got := metric(t, e.reg, "cspwatch_alerts_deliveries_total", "sink", "webhook", "result", "abandoned"); got != 1 {
		t.Errorf("abandoned webhook deliveries = %v, want 1", got)
	}
	r.evaluate(46, e)
	if rec, err := e.StateRecord(r.ctx, alerts.StateKey(k)); err != nil || rec != nil {
		t.Fatalf("state %+v (err %v) after the retention, want none", rec, err)
	}
	if got := len(r.hook.delivered(t)); got != 0 {
		t.Errorf("the failing webhook has %d alerts", got)
	}
	if n := r.subjectMessages(); n != 2 {
		t.Errorf("%d messages on the subject, want the firing and the resolve whatever the webhook does", n)
	}
}

// MSI install alerts carry only the ProductCode; the alert takes the
// product's name from the target's Results events, as an admin needs it.
func TestEngineNamesProductFromResults(t *testing.T) {
	r := newRig(t)
	r.background(0, 40)
	r.spike(30, 32)
	for i := range r.events {
		if r.events[i].TargetID == "{BAD}" {
			r.events[i].Product = &event.Product{Version: "2.1"} // as alerts: no name
		}
	}
	r.seq++
	r.events = append(r.events, event.Event{
		EventID: fmt.Sprintf("%032x", r.seq), SchemaVersion: 1, ReceivedAt: bucketStart(5),
		Tenant: "contoso", DeviceID: "inv-1", SessionID: "1", MsgID: "1", Kind: event.KindResult,
		Scope: event.ScopeDevice, CSP: event.CSPMSI, TargetID: "{BAD}", Node: "Status", Code: 70,
		CodeSpace: "msi_status", Outcome: "succeeded", Product: &event.Product{Name: "Google Chrome", Version: "2.1"},
	})
	r.flush()
	e := r.started("a", engineConfig("a", r.hook.URL))
	r.evaluate(30, e)
	r.check("the spike's first bucket", 1, 0)
	a := r.hook.delivered(t)[0]
	if a.ProductName != "Google Chrome" || !strings.Contains(a.Summary, "Google Chrome") {
		t.Fatalf("product name %q, summary %q: want the name the Results reported", a.ProductName, a.Summary)
	}
}
