package sink

import (
	"net/http"
	"testing"

	"github.com/cspwatch/cspwatch/internal/alerts"
)

// FromConfig adds the sinks that have a URL, each once, after the alert
// subject and the alerts table; the Alertmanager sink resends.
func TestFromConfig(t *testing.T) {
	c := alerts.DefaultConfig()
	c.WebhookURL, c.WebhookSecret = "http://hook.example", "test-secret-0123456789"
	c.SlackURL, c.TeamsURL = "https://slack.example", "https://teams.example"
	c.AlertmanagerURLs = []string{"http://am1:9093", "http://am2:9093"}
	sinks, err := FromConfig(c, nil, nil, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var resenders int
	for _, s := range sinks {
		names = append(names, s.Name())
		if _, ok := s.(alerts.Resender); ok {
			resenders++
		}
		if _, ok := s.(alerts.RetryReporter); !ok && s.Name() != "jetstream" && s.Name() != "clickhouse" {
			t.Errorf("sink %s does not report its retries", s.Name())
		}
	}
	want := []string{"jetstream", "clickhouse", "webhook", "slack", "teams", "alertmanager"}
	if len(names) != len(want) || resenders != 1 {
		t.Fatalf("sinks %v (%d resenders), want %v with one resender", names, resenders, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("sinks %v, want %v", names, want)
		}
	}
	c.WebhookSecret = "short"
	if _, err := FromConfig(c, nil, nil, nil); err == nil {
		t.Error("FromConfig accepted a short webhook secret")
	}
}
