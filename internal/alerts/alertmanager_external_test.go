package alerts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/testkit/externaltest"
	"github.com/cspwatch/cspwatch/internal/store"
)

// realAlertmanager is a prometheus-alertmanager process of one test: its
// own port, storage and configuration, clustering off, routing every alert
// to a receiver that notifies nobody.
type realAlertmanager struct {
	URL string
	log *syncBuffer
}

const amConfig = `route:
  receiver: "null"
  group_by: [alertname, tenant]
  group_wait: 1s
receivers:
  - name: "null"
`

func startAlertmanager(t *testing.T) *realAlertmanager {
	t.Helper()
	bin := externaltest.Require(t, externaltest.Alertmanager)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(amConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	// A free port may be taken between its probe and the server's bind: try
	// another when the process exits before it is ready.
	var lastErr error
	for range 3 {
		am, err := launchAlertmanager(t, bin, cfg, filepath.Join(dir, "data"))
		if err == nil {
			return am
		}
		lastErr = err
	}
	t.Fatalf("alertmanager: %v", lastErr)
	return nil
}

func launchAlertmanager(t *testing.T, bin, cfg, storage string) (*realAlertmanager, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	am := &realAlertmanager{URL: "http://" + addr, log: &syncBuffer{}}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+storage,
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=info")
	cmd.Stdout, cmd.Stderr = am.log, am.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			return nil, fmt.Errorf("exited before ready on %s:\n%s", addr, am.log.String())
		default:
		}
		if resp, err := http.Get(am.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("not ready on %s after 30s:\n%s", addr, am.log.String())
		}
		select {
		case <-exited:
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", am.log.String())
		}
	})
	return am, nil
}

// gettableAlert is what GET /api/v2/alerts returns of an alert.
type gettableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

// alerts returns the alerts GET /api/v2/alerts lists whose labels include
// match, with query's filters (active=true...).
func (am *realAlertmanager) alerts(t *testing.T, query url.Values, match map[string]string) []gettableAlert {
	t.Helper()
	for k, v := range match {
		query.Add("filter", k+"="+strconv.Quote(v))
	}
	resp, err := http.Get(am.URL + "/api/v2/alerts?" + query.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []gettableAlert
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("GET /api/v2/alerts: %s: %s", resp.Status, b.String())
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s, %s: still %s", what, state)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a timing assumption
	}
}

// activeAlert waits until Alertmanager lists one active alert with labels
// and returns it.
func (am *realAlertmanager) activeAlert(t *testing.T, labels map[string]string) gettableAlert {
	t.Helper()
	var got gettableAlert
	waitFor(t, "the alert active in Alertmanager", func() (bool, string) {
		list := am.alerts(t, url.Values{"active": {"true"}}, map[string]string{"alertname": AlertName, "tenant": labels["tenant"]})
		if len(list) != 1 {
			return false, fmt.Sprintf("%d alerts listed: %+v", len(list), list)
		}
		got = list[0]
		return maps.Equal(got.Labels, labels) && got.Status.State == "active", fmt.Sprintf("%+v", got)
	})
	return got
}

// waitGone waits until Alertmanager lists no active alert of the tenant.
func (am *realAlertmanager) waitGone(t *testing.T, tenant string) {
	t.Helper()
	waitFor(t, "the alert resolved in Alertmanager", func() (bool, string) {
		list := am.alerts(t, url.Values{"active": {"true"}}, map[string]string{"alertname": AlertName, "tenant": tenant})
		return len(list) == 0, fmt.Sprintf("%+v", list)
	})
}

// The sink against a real Alertmanager: a firing alert is active with its
// labels and annotations; its resolve ends it; a stale firing post after
// the resolve reopens it until the resend of the resolve ends it again.
func TestAlertmanagerRealServer(t *testing.T) {
	am := startAlertmanager(t)
	s := newTestAlertmanager(t, AlertmanagerOptions{URLs: []string{am.URL}, Horizon: 10 * time.Minute, DashboardURL: "http://127.0.0.1:8082"})
	now := time.Now().UTC().Truncate(time.Second)
	fired := productAlert(now.Add(-3 * time.Minute))
	if err := s.Deliver(t.Context(), fired); err != nil {
		t.Fatal(err)
	}
	want := alertmanagerLabels(&fired)
	got := am.activeAlert(t, want)
	for k, v := range map[string]string{
		"summary": fired.Summary, "advice": fired.Advice, "details_sql": fired.Query, "alert_id": fired.ID,
		"dashboard": s.link(&fired, time.Now()),
	} {
		if got.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, got.Annotations[k], v)
		}
	}
	if got.Annotations["description"] == "" {
		t.Error("no description annotation")
	}
	if !got.StartsAt.Equal(fired.FirstSeen) {
		t.Errorf("startsAt %v, want the alert's first seen %v", got.StartsAt, fired.FirstSeen)
	}
	if d := got.EndsAt.Sub(time.Now()); d < 9*time.Minute || d > 10*time.Minute {
		t.Errorf("endsAt %v is %v ahead, want the 10m horizon", got.EndsAt, d)
	}
	if got.GeneratorURL != s.link(&fired, time.Now()) {
		t.Errorf("generatorURL %q", got.GeneratorURL)
	}

	// A resend while it fires keeps one alert, its start unchanged.
	if err := s.Resend(t.Context(), []Alert{fired}); err != nil {
		t.Fatal(err)
	}
	if again := am.activeAlert(t, want); again.Fingerprint != got.Fingerprint || !again.StartsAt.Equal(fired.FirstSeen) {
		t.Errorf("after a resend: %+v, want the same alert as %+v", again, got)
	}

	res := resolvedOf(fired, time.Now().Add(-time.Second))
	if err := s.Deliver(t.Context(), res); err != nil {
		t.Fatal(err)
	}
	am.waitGone(t, "contoso")

	// Another replica's firing post that arrives after the resolve reopens
	// the alert; the resolve, resent at the next bucket, ends it again.
	if err := s.Deliver(t.Context(), fired); err != nil {
		t.Fatal(err)
	}
	am.activeAlert(t, want)
	if err := s.Resend(t.Context(), []Alert{res}); err != nil {
		t.Fatal(err)
	}
	am.waitGone(t, "contoso")
}

// Through the engine: a spike in ClickHouse fires in Alertmanager with the
// product's labels, stays active while the engine resends it every bucket,
// and ends when the spike resolves.
func TestEngineAlertmanagerEndToEnd(t *testing.T) {
	am := startAlertmanager(t)
	r := newRig(t)
	r.background(0, 40)
	r.spike(30, 32)
	r.flush()
	cfg := engineConfig("a", r.hook.URL)
	cfg.AlertmanagerURLs = []string{am.URL}
	e := r.started("a", cfg)
	if got := am.alerts(t, url.Values{}, map[string]string{"alertname": AlertName}); len(got) != 0 {
		t.Fatalf("alerts before the spike: %+v", got)
	}

	r.evaluate(30, e)
	r.check("the spike's first bucket", 1, 0)
	want := map[string]string{
		"alertname": AlertName, "tenant": "contoso", "level": "product", "severity": "critical",
		"cause": "win32 1603", "code_hex": "0x80070643", "csp": event.CSPMSI, "target_id": "{BAD}",
		"product": "Product {BAD}", "version": "2.1",
	}
	a := am.activeAlert(t, want)
	fired := r.hook.delivered(t)[0]
	if a.Annotations["alert_id"] != fired.ID || a.Annotations["details_sql"] != fired.Query || a.Annotations["advice"] == "" {
		t.Errorf("annotations %v, want the webhook's alert %s", a.Annotations, fired.ID)
	}
	if !a.StartsAt.Equal(bucketStart(30)) {
		t.Errorf("startsAt %v, want the spike's bucket %v", a.StartsAt, bucketStart(30))
	}

	for i := 31; i <= 33; i++ { // the spike, then one quiet bucket
		r.evaluate(i, e)
		am.activeAlert(t, want)
	}
	if n := metric(t, e.reg, "cspwatch_alerts_resends_total", "sink", "alertmanager", "result", "sent"); n < 3 {
		t.Errorf("%v resends while the spike lasted, want one per bucket", n)
	}
	// An administrator names the product while it fires: the resolve keeps
	// the firing's names, so its labels end the alert the firing opened.
	if err := r.st.InsertAdminProducts(r.ctx, []store.AdminProduct{{Tenant: "contoso", CSP: event.CSPMSI, TargetID: "{BAD}", Name: "Contoso VPN"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	for i := 34; i <= 38; i++ {
		r.evaluate(i, e)
	}
	r.check("after the cooldown", 1, 1)
	am.waitGone(t, "contoso")
	if res := r.hook.delivered(t)[1]; res.ProductName != "Product {BAD}" {
		t.Errorf("resolve names the product %q, want the firing's name", res.ProductName)
	}
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"cspwatch_alerts_deliveries_total", []string{"sink", "alertmanager", "result", "delivered"}, 2},
		{"cspwatch_alerts_deliveries_total", []string{"sink", "alertmanager", "result", "retried"}, 0},
		{"cspwatch_alerts_resends_total", []string{"sink", "alertmanager", "result", "failed"}, 0},
	} {
		if got := metric(t, e.reg, m.name, m.labels...); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.want)
		}
	}
}
