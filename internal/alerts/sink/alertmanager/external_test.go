package alertmanager

import (
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/alerts/sink/alertmanager/alertmanagertest"
)

// The sink against a real Alertmanager: a firing alert is active with its
// labels and annotations; its resolve ends it; a stale firing post after
// the resolve reopens it until the resend of the resolve ends it again.
func TestAlertmanagerRealServer(t *testing.T) {
	am := alertmanagertest.Start(t)
	s := newTestAlertmanager(t, Options{URLs: []string{am.URL}, Horizon: 10 * time.Minute, DashboardURL: "http://127.0.0.1:8082"})
	now := time.Now().UTC().Truncate(time.Second)
	fired := productAlert(now.Add(-3 * time.Minute))
	if err := s.Deliver(t.Context(), fired); err != nil {
		t.Fatal(err)
	}
	want := alertmanagerLabels(&fired)
	got := am.ActiveAlert(t, want)
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
	if d := time.Until(got.EndsAt); d < 9*time.Minute || d > 10*time.Minute {
		t.Errorf("endsAt %v is %v ahead, want the 10m horizon", got.EndsAt, d)
	}
	if got.GeneratorURL != s.link(&fired, time.Now()) {
		t.Errorf("generatorURL %q", got.GeneratorURL)
	}

	// A resend while it fires keeps one alert, its start unchanged.
	if err := s.Resend(t.Context(), []alerts.Alert{fired}); err != nil {
		t.Fatal(err)
	}
	if again := am.ActiveAlert(t, want); again.Fingerprint != got.Fingerprint || !again.StartsAt.Equal(fired.FirstSeen) {
		t.Errorf("after a resend: %+v, want the same alert as %+v", again, got)
	}

	res := resolvedOf(fired, time.Now().Add(-time.Second))
	if err := s.Deliver(t.Context(), res); err != nil {
		t.Fatal(err)
	}
	am.WaitGone(t, "contoso")

	// Another replica's firing post that arrives after the resolve reopens
	// the alert; the resolve, resent at the next bucket, ends it again.
	if err := s.Deliver(t.Context(), fired); err != nil {
		t.Fatal(err)
	}
	am.ActiveAlert(t, want)
	if err := s.Resend(t.Context(), []alerts.Alert{res}); err != nil {
		t.Fatal(err)
	}
	am.WaitGone(t, "contoso")
}
