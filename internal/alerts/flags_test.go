package alerts

import (
	"flag"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/cli"
)

func TestAlertmanagerEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://am:9093":                      "http://am:9093/api/v2/alerts",
		"http://am:9093/":                     "http://am:9093/api/v2/alerts",
		"https://ops.example/alertmanager":    "https://ops.example/alertmanager/api/v2/alerts",
		"http://am:9093/api/v2/alerts":        "http://am:9093/api/v2/alerts",
		" http://am:9093/api/v2/alerts/?x=1 ": "http://am:9093/api/v2/alerts/",
	} {
		u, err := AlertmanagerEndpoint(in)
		if err != nil || u.String() != want {
			t.Errorf("AlertmanagerEndpoint(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"am:9093", "ftp://am", "http://", "::"} {
		if _, err := AlertmanagerEndpoint(bad); err == nil {
			t.Errorf("AlertmanagerEndpoint(%q) accepted", bad)
		}
	}
}

func TestAlertmanagerFlags(t *testing.T) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	env := map[string]string{
		"CSPWATCH_ALERT_ALERTMANAGER_TOKEN": "tok",
		"CSPWATCH_ALERT_DASHBOARD_URL":      "http://127.0.0.1:8082",
	}
	if err := cli.Parse(fs, []string{"--alert-alertmanager-url", "http://am1:9093, http://am2:9093", "--alert-alertmanager-url=http://am3:9093"},
		func(k string) string { return env[k] }, "CSPWATCH", io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := []string{"http://am1:9093", "http://am2:9093", "http://am3:9093"}; !slices.Equal(c.AlertmanagerURLs, want) {
		t.Errorf("urls %q, want %q", c.AlertmanagerURLs, want)
	}
	if c.AlertmanagerToken != "tok" || c.DashboardURL != "http://127.0.0.1:8082" {
		t.Errorf("token %q dashboard %q from the environment", c.AlertmanagerToken, c.DashboardURL)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.AlertmanagerHorizonOrDefault(); got != 5*time.Minute {
		t.Errorf("default horizon with 1m buckets %v, want 5m", got)
	}
	c.Bucket = 5 * time.Minute
	if got := c.AlertmanagerHorizonOrDefault(); got != 20*time.Minute {
		t.Errorf("default horizon with 5m buckets %v, want 4 buckets", got)
	}

	// From the environment alone, comma-separated.
	c = DefaultConfig()
	fs = flag.NewFlagSet("test", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := cli.Parse(fs, nil, func(k string) string {
		return map[string]string{"CSPWATCH_ALERT_ALERTMANAGER_URL": "http://a:9093,http://b:9093"}[k]
	}, "CSPWATCH", io.Discard); err != nil {
		t.Fatal(err)
	}
	if len(c.AlertmanagerURLs) != 2 {
		t.Errorf("urls from CSPWATCH_ALERT_ALERTMANAGER_URL: %q", c.AlertmanagerURLs)
	}

	for name, mod := range map[string]func(*Config){
		"bad url":             func(c *Config) { c.AlertmanagerURLs = []string{"am:9093"} },
		"short horizon":       func(c *Config) { c.AlertmanagerHorizon = time.Minute },
		"user and token":      func(c *Config) { c.AlertmanagerUser, c.AlertmanagerToken = "u", "t" },
		"password alone":      func(c *Config) { c.AlertmanagerPassword = "p" },
		"bad dashboard url":   func(c *Config) { c.DashboardURL = "localhost:8082" },
		"dashboard no scheme": func(c *Config) { c.DashboardURL = "//host/x" },
	} {
		c := DefaultConfig()
		c.AlertmanagerURLs = []string{"http://am:9093"}
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
	}
}
