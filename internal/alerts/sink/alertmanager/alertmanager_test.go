package alertmanager

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/alerts/sink/post"
	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
)

// amServer is an httptest Alertmanager API: it records each POST to
// /api/v2/alerts and answers with the next of its statuses (200 once they
// run out).
type amServer struct {
	*httptest.Server
	mu       sync.Mutex
	reqs     []amReq
	statuses []int
}

type amReq struct {
	path   string
	header http.Header
	alerts []postableAlert
	status int
}

func newAMServer(t *testing.T, statuses ...int) *amServer {
	s := &amServer{statuses: statuses}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var alerts []postableAlert
		if err := json.Unmarshal(body, &alerts); err != nil {
			t.Errorf("body is not a JSON array of postable alerts: %v\n%s", err, body)
		}
		s.mu.Lock()
		status := http.StatusOK
		if len(s.statuses) > 0 {
			status, s.statuses = s.statuses[0], s.statuses[1:]
		}
		s.reqs = append(s.reqs, amReq{r.URL.Path, r.Header.Clone(), alerts, status})
		s.mu.Unlock()
		w.WriteHeader(status)
		if status >= 300 {
			io.WriteString(w, `{"code":`+http.StatusText(status)+`}`)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *amServer) requests() []amReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

var testPolicy = post.Policy{Attempts: 3, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Timeout: 5 * time.Second}

// productAlert is a firing product-level alert as the engine delivers it.
func productAlert(firstSeen time.Time) alerts.Alert {
	a := alerts.Alert{
		ID: "0123456789abcdef0123456789abcdef-1795413600", Status: alerts.Firing, Level: alerts.LevelProduct,
		Tenant: "contoso", CSP: event.CSPMSI, TargetID: "{BAD}", ProductName: "Contoso VPN", ProductVersion: "2.1",
		Severity: alerts.Critical, CodeSpace: codes.SpaceWin32, Code: 1603, CodeHex: "0x80070643", CodeName: "ERROR_INSTALL_FAILURE",
		CodeDescription: "Fatal error during installation.", Category: "installer", Advice: "Read the MSI log on a sample device.",
		Attempts: 40, Failures: 40, Devices: 25, Finished: 40, Share: 1, Peak: 40, Baseline: 2, DeviceBaseline: 2, Factor: 2,
		SampleDevices: []string{"bad-0", "bad-1", "bad-10"}, FirstSeen: firstSeen, BucketSeconds: 60,
		Query: "SELECT finished_at FROM attempts WHERE tenant = 'contoso'",
	}
	a.Summary = "win32 1603 ERROR_INSTALL_FAILURE: 40 failed installs of Contoso VPN 2.1 on 25 devices (contoso)"
	return a
}

func resolvedOf(a alerts.Alert, at time.Time) alerts.Alert {
	a.Status, a.ResolvedAt = alerts.Resolved, at
	a.Summary = "resolved: " + a.Summary
	return a
}

func newTestAlertmanager(t *testing.T, o Options) *Sink {
	t.Helper()
	if o.Policy == (post.Policy{}) {
		o.Policy = testPolicy
	}
	if o.Horizon == 0 {
		o.Horizon = 10 * time.Minute
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAlertmanagerPayload(t *testing.T) {
	srv := newAMServer(t)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s := newTestAlertmanager(t, Options{URLs: []string{srv.URL + "/"}, BearerToken: "s3cret",
		Horizon: 10 * time.Minute, DashboardURL: "https://cspwatch.example/dash/"})
	s.now = func() time.Time { return now }
	fired := productAlert(now.Add(-3 * time.Minute))
	if err := s.Deliver(t.Context(), fired); err != nil {
		t.Fatal(err)
	}
	res := resolvedOf(fired, now.Add(-time.Minute))
	if err := s.Deliver(t.Context(), res); err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for _, r := range reqs {
		if r.path != "/api/v2/alerts" {
			t.Errorf("posted to %s, want /api/v2/alerts", r.path)
		}
		if got := r.header.Get("Authorization"); got != "Bearer s3cret" {
			t.Errorf("Authorization %q", got)
		}
		if got := r.header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type %q", got)
		}
		if len(r.alerts) != 1 {
			t.Fatalf("%d alerts in a post, want 1", len(r.alerts))
		}
	}
	f, rv := reqs[0].alerts[0], reqs[1].alerts[0]
	wantLabels := map[string]string{
		"alertname": "CspwatchInstallFailureSpike", "tenant": "contoso", "level": "product", "severity": "critical",
		"cause": "win32 1603", "code_hex": "0x80070643", "csp": event.CSPMSI, "target_id": "{BAD}",
		"product": "Contoso VPN", "version": "2.1",
	}
	if !maps.Equal(f.Labels, wantLabels) {
		t.Errorf("firing labels\n got %v\nwant %v", f.Labels, wantLabels)
	}
	if !maps.Equal(rv.Labels, f.Labels) {
		t.Errorf("resolve labels %v differ from the firing's %v: Alertmanager would see two alerts", rv.Labels, f.Labels)
	}
	link := "https://cspwatch.example/dash/alerts?alert=" + fired.ID + "&tenant=contoso"
	for k, want := range map[string]string{
		"summary": fired.Summary, "advice": fired.Advice, "details_sql": fired.Query, "alert_id": fired.ID,
		"code_name": "ERROR_INSTALL_FAILURE", "sample_devices": "bad-0, bad-1, bad-10", "dashboard": link,
	} {
		if got := f.Annotations[k]; got != want {
			t.Errorf("annotation %s = %q, want %q", k, got, want)
		}
	}
	for _, sub := range []string{"Product: Contoso VPN 2.1 (" + event.CSPMSI + ")", "Cause: 1603 (0x80070643) ERROR_INSTALL_FAILURE", "Devices: 25", "Fatal error during installation."} {
		if !strings.Contains(f.Annotations["description"], sub) {
			t.Errorf("description lacks %q:\n%s", sub, f.Annotations["description"])
		}
	}
	if f.GeneratorURL != link {
		t.Errorf("generatorURL %q, want %q", f.GeneratorURL, link)
	}
	old := productAlert(now.Add(-50 * time.Hour))
	if got, want := s.link(&old, now), "https://cspwatch.example/dash/alerts?alert="+old.ID+"&range=4d&tenant=contoso"; got != want {
		t.Errorf("link of an alert 50h old %q, want %q", got, want)
	}
	if !strings.Contains(rv.Annotations["summary"], "resolved") {
		t.Errorf("resolve summary %q", rv.Annotations["summary"])
	}
	if !f.StartsAt.Equal(fired.FirstSeen) || !f.EndsAt.Equal(now.Add(10*time.Minute)) {
		t.Errorf("firing startsAt %v endsAt %v, want %v and now + horizon %v", f.StartsAt, f.EndsAt, fired.FirstSeen, now.Add(10*time.Minute))
	}
	if !rv.StartsAt.Equal(fired.FirstSeen) || !rv.EndsAt.Equal(res.ResolvedAt) {
		t.Errorf("resolve startsAt %v endsAt %v, want %v and the resolve time %v", rv.StartsAt, rv.EndsAt, fired.FirstSeen, res.ResolvedAt)
	}
}

// The wire form: RFC 3339 times, Alertmanager's field names.
func TestAlertmanagerJSON(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s := newTestAlertmanager(t, Options{URLs: []string{"http://am:9093"}, Horizon: 5 * time.Minute})
	a := productAlert(now.Add(-time.Minute))
	a.Level, a.CSP, a.TargetID, a.ProductName, a.ProductVersion = alerts.LevelCode, "", "", "", ""
	a.CodeSpace, a.Code, a.CodeHex = codes.SpaceHRESULT, -2016345060, "0x87d1041c"
	b, err := json.Marshal(s.postable(&a, now))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["startsAt"] != "2026-11-30T11:59:00Z" || m["endsAt"] != "2026-11-30T12:05:00Z" {
		t.Errorf("startsAt %v endsAt %v", m["startsAt"], m["endsAt"])
	}
	if _, ok := m["generatorURL"]; ok {
		t.Errorf("generatorURL without a dashboard URL: %s", b)
	}
	labels := m["labels"].(map[string]any)
	if labels["cause"] != "hresult 0x87d1041c" || labels["level"] != "code" {
		t.Errorf("labels %v", labels)
	}
	for _, k := range []string{"product", "version", "csp", "target_id"} {
		if _, ok := labels[k]; ok {
			t.Errorf("a code-level alert has label %s: %v", k, labels)
		}
	}
}

func TestAlertmanagerRetriesOn503(t *testing.T) {
	srv := newAMServer(t, http.StatusServiceUnavailable, http.StatusServiceUnavailable)
	s := newTestAlertmanager(t, Options{URLs: []string{srv.URL}, Username: "cspwatch", Password: "pw"})
	var retried int
	s.OnRetry(func() { retried++ })
	if err := s.Deliver(t.Context(), productAlert(time.Now().Add(-time.Minute))); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	reqs := srv.requests()
	if len(reqs) != 3 || reqs[2].status != http.StatusOK {
		t.Fatalf("%d requests, want 2 answered 503 and a third 200", len(reqs))
	}
	if user, pw, ok := (&http.Request{Header: reqs[0].header}).BasicAuth(); !ok || user != "cspwatch" || pw != "pw" {
		t.Errorf("basic auth %q %q %v", user, pw, ok)
	}
	if retried != 2 {
		t.Errorf("%d retries reported, want 2", retried)
	}

	// Every try 503: a retryable error after the policy's tries.
	srv = newAMServer(t, 503, 503, 503)
	s = newTestAlertmanager(t, Options{URLs: []string{srv.URL}})
	err := s.Deliver(t.Context(), productAlert(time.Now()))
	if err == nil || errors.Is(err, alerts.ErrPermanent) || len(srv.requests()) != 3 {
		t.Errorf("Deliver = %v after %d requests, want a retryable error after 3", err, len(srv.requests()))
	}
}

func TestAlertmanagerNoRetryOn400(t *testing.T) {
	srv := newAMServer(t, http.StatusBadRequest)
	s := newTestAlertmanager(t, Options{URLs: []string{srv.URL}})
	err := s.Deliver(t.Context(), productAlert(time.Now()))
	if !errors.Is(err, alerts.ErrPermanent) {
		t.Errorf("Deliver = %v, want alerts.ErrPermanent", err)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("%d requests, want 1 (no retry on 400)", n)
	}
}

// An HA pair: delivered when one Alertmanager accepts; permanent only when
// both refuse for good.
func TestAlertmanagerHAPair(t *testing.T) {
	tests := []struct {
		name      string
		a, b      []int
		ok, perm  bool
		triesOfA  int
		triesOfB  int
		wantInErr string
	}{
		{"one down", []int{503, 503, 503}, nil, true, false, 3, 1, ""},
		{"both refuse", []int{400}, []int{422}, false, true, 1, 1, "http 422"},
		{"one refuses, one down", []int{400}, []int{503, 503, 503}, false, false, 1, 3, "http 400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newAMServer(t, tt.a...), newAMServer(t, tt.b...)
			s := newTestAlertmanager(t, Options{URLs: []string{a.URL, b.URL}})
			err := s.Deliver(t.Context(), productAlert(time.Now()))
			if (err == nil) != tt.ok || errors.Is(err, alerts.ErrPermanent) != tt.perm {
				t.Errorf("Deliver = %v, want ok %v permanent %v", err, tt.ok, tt.perm)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("error %q lacks %q", err, tt.wantInErr)
			}
			if len(a.requests()) != tt.triesOfA || len(b.requests()) != tt.triesOfB {
				t.Errorf("tries %d and %d, want %d and %d", len(a.requests()), len(b.requests()), tt.triesOfA, tt.triesOfB)
			}
		})
	}
}

// Resend posts the firing alerts (endsAt renewed) and the resolves of the
// last horizon in one request per Alertmanager, tried once.
func TestAlertmanagerResend(t *testing.T) {
	srv := newAMServer(t)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s := newTestAlertmanager(t, Options{URLs: []string{srv.URL}, Horizon: 10 * time.Minute})
	s.now = func() time.Time { return now }
	open := productAlert(now.Add(-2 * time.Hour))
	recent := productAlert(now.Add(-time.Hour))
	recent.ID, recent.TargetID = "recent", "{RECENT}"
	recent = resolvedOf(recent, now.Add(-9*time.Minute))
	old := productAlert(now.Add(-time.Hour))
	old.ID, old.TargetID = "old", "{OLD}"
	old = resolvedOf(old, now.Add(-10*time.Minute))
	if err := s.Resend(t.Context(), []alerts.Alert{open, recent, old}); err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 1 || len(reqs[0].alerts) != 2 {
		t.Fatalf("%d requests, want one of 2 alerts: %+v", len(reqs), reqs)
	}
	got := reqs[0].alerts
	if got[0].Labels["target_id"] != "{BAD}" || !got[0].EndsAt.Equal(now.Add(10*time.Minute)) {
		t.Errorf("open alert resent as %v ending %v, want endsAt now + horizon", got[0].Labels, got[0].EndsAt)
	}
	if got[1].Labels["target_id"] != "{RECENT}" || !got[1].EndsAt.Equal(recent.ResolvedAt) {
		t.Errorf("recent resolve resent as %v ending %v, want its resolve time", got[1].Labels, got[1].EndsAt)
	}

	// Nothing to send: no request.
	if err := s.Resend(t.Context(), []alerts.Alert{old}); err != nil || len(srv.requests()) != 1 {
		t.Errorf("Resend of an old resolve = %v, %d requests; want nothing sent", err, len(srv.requests()))
	}

	// One try only: the next bucket sends again.
	down := newAMServer(t, 503, 503)
	s = newTestAlertmanager(t, Options{URLs: []string{down.URL}})
	if err := s.Resend(t.Context(), []alerts.Alert{open}); err == nil || len(down.requests()) != 1 {
		t.Errorf("Resend to a 503 = %v after %d requests, want an error after 1", err, len(down.requests()))
	}
}
