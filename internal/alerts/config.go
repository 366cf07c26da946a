package alerts

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/webhooksig"
)

// Config holds the spike detector's thresholds, its coordination settings and
// its notifiers. DefaultConfig gives values usable on one machine; Validate
// reports the first inconsistent one.
type Config struct {
	// Bucket is the length of one evaluation window; buckets are aligned to
	// the Unix epoch so that every replica cuts time the same way.
	Bucket time.Duration
	// Lateness is how long after a bucket's end the detector waits before
	// reading it, so that events still in the ingest → ClickHouse pipeline
	// are counted. Events stored later than that are not counted in any
	// bucket.
	Lateness time.Duration
	// Window is the trailing history read from ClickHouse at start to rebuild
	// baselines and open alerts; it also bounds how many missed buckets are
	// evaluated after a pause.
	Window time.Duration
	// WarmUp is how long the detector learns from the first bucket with data
	// before it may fire. A restart replays Window from ClickHouse, so only a
	// fresh installation waits.
	WarmUp time.Duration
	// HalfLife is the EWMA baseline's half-life: a bucket's weight halves
	// after this long.
	HalfLife time.Duration
	// Floor is the lowest baseline, in failed attempts (and devices) per
	// bucket, so that a cause never seen before needs more than Factor ×
	// Floor failed attempts to fire.
	Floor float64
	// Factor: a key fires when its failed attempts in a bucket exceed
	// Factor × their baseline, its devices DeviceFactor × theirs, and
	// MinDevices distinct devices failed (Detector gives the whole rule).
	Factor     float64
	MinDevices int
	// DeviceFactor: the bucket's distinct devices must also exceed
	// DeviceFactor × their baseline, so that a few devices failing in a loop
	// do not fire; 0 (the default) means the code's factor.
	DeviceFactor float64
	// ResolveFactor is the hysteresis: an open alert counts as still hot
	// while failed attempts exceed ResolveFactor × the baseline it fired
	// against (with MinDevices devices). It is at most Factor.
	ResolveFactor float64
	// Cooldown is how long an open alert must stay below the resolve
	// threshold before it is resolved; it rounds up to whole buckets.
	Cooldown time.Duration
	// CodeShare suppresses a code-level alert whose failures come mostly
	// (at least this share) from product-level alerts already open for the
	// same code, so that one product's spike raises one alert, not two.
	CodeShare float64
	// Overrides change the thresholds of single codes ("3010:off",
	// "1603:factor=2,min_devices=3"); see ParseOverride.
	Overrides []Override
	// MinShare: a product-level key fires only when its failed attempts
	// also exceed MinShare × the attempts that finished on its product
	// version in the bucket (at least one install in 1/MinShare failing
	// with this cause), so that a rollout's burst of installs, which brings
	// a burst of the usual failures, raises nothing. MinCodeShare is the
	// same for a code-level key, of the tenant's finished attempts.
	MinShare     float64
	MinCodeShare float64
	// Lookback is how far before a bucket the source reads events to
	// rebuild the attempts that end in it (ClickHouseSource.Lookback):
	// longer sees older install commands (and their versions) and costs a
	// longer scan per bucket.
	Lookback time.Duration
	// Severity of a firing alert: critical when at least CriticalDevices
	// devices failed in the bucket, or when at least CriticalShare of the
	// attempts that finished in it on the key's scope (the product version;
	// at the code level, the tenant) failed with this cause; warning
	// otherwise. Decided once, when the alert fires.
	CriticalDevices int
	CriticalShare   float64

	// StateBucket is the JetStream key-value bucket shared by replicas.
	StateBucket   string
	StateReplicas int
	// ClaimLease is how long a replica that claimed a transition may take to
	// deliver it before another replica delivers its undelivered sinks.
	ClaimLease time.Duration
	// Retention is how long a resolved alert's state is kept; it must exceed
	// Cooldown so that a late replica sees the resolve.
	Retention time.Duration
	// Replica names this process in the shared state (default: host name
	// and pid).
	Replica string

	// Notifiers. Empty URLs are off.
	WebhookURL    string
	WebhookSecret string
	SlackURL      string
	TeamsURL      string
	// AlertmanagerURLs are the Alertmanagers (API v2) to post alerts to:
	// every member of an HA cluster; none is off. AlertmanagerUser and
	// AlertmanagerPassword (basic auth) or AlertmanagerToken (bearer) are
	// sent when set. AlertmanagerHorizon is how far past each post a firing
	// alert's endsAt is set (sink/alertmanager); 0 means 4 buckets, at least
	// 5 minutes.
	AlertmanagerURLs     []string
	AlertmanagerUser     string
	AlertmanagerPassword string
	AlertmanagerToken    string
	AlertmanagerHorizon  time.Duration
	// DashboardURL is the dashboard's base URL as people reach it, for the
	// links in alerts (Alertmanager's generatorURL); "" for no links.
	DashboardURL string
	// NotifyAttempts bounds tries per notification; NotifyBackoff is the
	// first wait, doubled per try up to NotifyMaxBackoff.
	NotifyAttempts   int
	NotifyBackoff    time.Duration
	NotifyMaxBackoff time.Duration
	NotifyTimeout    time.Duration
}

// DefaultConfig returns the defaults: one-minute buckets read 15 s after they
// close, attempts read with 7 days of lookback, a one-hour EWMA half-life
// over a six-hour window with a floor of one failed attempt per bucket,
// firing when failed attempts and devices exceed 3× their baselines on at
// least 5 devices, resolving after 5 minutes below 1.5×, critical from 25
// devices or half the finished attempts; 3010 and 1641 (success, reboot needed) never
// alert, nor MSI Status 60 and Office FinalStatus 60 (generic "failed" states
// whose specific code arrives in the same message and alerts on its own);
// 1603 (fatal MSI error) fires at 2×.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		Bucket:        time.Minute,
		Lateness:      15 * time.Second,
		Window:        6 * time.Hour,
		WarmUp:        15 * time.Minute,
		HalfLife:      time.Hour,
		Floor:         1,
		Factor:        3,
		MinDevices:    5,
		ResolveFactor: 1.5,
		Cooldown:      5 * time.Minute,
		CodeShare:     0.5,
		Overrides: []Override{
			{Code: 3010, Disabled: true},
			{Code: 1641, Disabled: true},
			{Space: codes.SpaceMSIStatus, Code: 60, Disabled: true},
			{Space: codes.SpaceOfficeFinal, Code: 60, Disabled: true},
			{Code: 1603, Factor: 2},
		},
		MinShare:         0.1,
		MinCodeShare:     0.02,
		Lookback:         DefaultLookback,
		CriticalDevices:  25,
		CriticalShare:    0.5,
		StateBucket:      "CSPWATCH_ALERT_STATE",
		StateReplicas:    1,
		ClaimLease:       2 * time.Minute,
		Retention:        24 * time.Hour,
		Replica:          fmt.Sprintf("%s-%d", host, os.Getpid()),
		NotifyAttempts:   5,
		NotifyBackoff:    500 * time.Millisecond,
		NotifyMaxBackoff: 30 * time.Second,
		NotifyTimeout:    10 * time.Second,
	}
}

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	switch {
	case c.Bucket < time.Second || c.Bucket%time.Second != 0:
		return fmt.Errorf("alerts: bucket %v, want whole seconds, at least 1s", c.Bucket)
	case c.Lateness < 0 || c.Lateness >= c.Bucket:
		return fmt.Errorf("alerts: lateness %v, want 0 to less than the bucket %v", c.Lateness, c.Bucket)
	case c.Window < c.Bucket:
		return fmt.Errorf("alerts: window %v shorter than the bucket %v", c.Window, c.Bucket)
	case c.Window/c.Bucket > 100_000:
		return fmt.Errorf("alerts: window %v holds more than 100000 buckets", c.Window)
	case c.WarmUp < 0 || c.WarmUp >= c.Window:
		return fmt.Errorf("alerts: warm-up %v, want 0 to less than the window %v", c.WarmUp, c.Window)
	case c.HalfLife < c.Bucket:
		return fmt.Errorf("alerts: half-life %v shorter than the bucket %v", c.HalfLife, c.Bucket)
	case !finite(c.Floor) || c.Floor <= 0:
		return fmt.Errorf("alerts: floor %v, want positive", c.Floor)
	case !finite(c.Factor) || c.Factor <= 1:
		return fmt.Errorf("alerts: factor %v, want above 1", c.Factor)
	case !finite(c.DeviceFactor) || c.DeviceFactor != 0 && c.DeviceFactor < 1:
		return fmt.Errorf("alerts: device factor %v, want 0 (the factor) or at least 1", c.DeviceFactor)
	case !finite(c.MinShare) || c.MinShare < 0 || c.MinShare >= 1:
		return fmt.Errorf("alerts: min share %v, want 0 to less than 1", c.MinShare)
	case !finite(c.MinCodeShare) || c.MinCodeShare < 0 || c.MinCodeShare >= 1:
		return fmt.Errorf("alerts: min code share %v, want 0 to less than 1", c.MinCodeShare)
	case c.Lookback < 0:
		return fmt.Errorf("alerts: negative lookback %v", c.Lookback)
	case c.CriticalDevices < 1:
		return fmt.Errorf("alerts: critical devices %d, want at least 1", c.CriticalDevices)
	case !finite(c.CriticalShare) || c.CriticalShare <= 0 || c.CriticalShare > 1:
		return fmt.Errorf("alerts: critical share %v, want above 0 and at most 1", c.CriticalShare)
	case c.MinDevices < 1:
		return fmt.Errorf("alerts: min devices %d, want at least 1", c.MinDevices)
	case !finite(c.ResolveFactor) || c.ResolveFactor <= 0 || c.ResolveFactor > c.Factor:
		return fmt.Errorf("alerts: resolve factor %v, want above 0 and at most the factor %v", c.ResolveFactor, c.Factor)
	case c.Cooldown < 0:
		return fmt.Errorf("alerts: negative cooldown %v", c.Cooldown)
	case !finite(c.CodeShare) || c.CodeShare <= 0 || c.CodeShare > 1:
		return fmt.Errorf("alerts: code share %v, want above 0 and at most 1", c.CodeShare)
	case c.StateBucket == "" || strings.ContainsAny(c.StateBucket, ". *>\t\n/"):
		return fmt.Errorf("alerts: bad state bucket name %q", c.StateBucket)
	case c.StateReplicas < 1 || c.StateReplicas > 5:
		return fmt.Errorf("alerts: state replicas %d, want 1 to 5", c.StateReplicas)
	case c.ClaimLease < time.Second:
		return fmt.Errorf("alerts: claim lease %v, want at least 1s", c.ClaimLease)
	case c.Retention <= c.Cooldown+c.Bucket:
		return fmt.Errorf("alerts: retention %v, want longer than cooldown plus one bucket", c.Retention)
	case c.Replica == "":
		return errors.New("alerts: empty replica name")
	case c.WebhookURL != "" && len(c.WebhookSecret) < 16 && !strings.HasPrefix(c.WebhookSecret, "whsec_"):
		return errors.New("alerts: webhook secret shorter than 16 bytes (the generic webhook is always signed)")
	case c.NotifyAttempts < 1 || c.NotifyAttempts > 20:
		return fmt.Errorf("alerts: notify attempts %d, want 1 to 20", c.NotifyAttempts)
	case c.NotifyBackoff <= 0 || c.NotifyMaxBackoff < c.NotifyBackoff:
		return fmt.Errorf("alerts: notify backoff %v up to %v, want positive and max at least the first", c.NotifyBackoff, c.NotifyMaxBackoff)
	case c.NotifyTimeout <= 0:
		return fmt.Errorf("alerts: notify timeout %v, want positive", c.NotifyTimeout)
	case c.AlertmanagerHorizon != 0 && c.AlertmanagerHorizon < 2*c.Bucket:
		return fmt.Errorf("alerts: alertmanager horizon %v, want 0 (4 buckets, at least 5m) or at least two buckets (alerts are resent every bucket)", c.AlertmanagerHorizon)
	case c.AlertmanagerToken != "" && c.AlertmanagerUser != "":
		return errors.New("alerts: set an alertmanager user or token, not both")
	case c.AlertmanagerPassword != "" && c.AlertmanagerUser == "":
		return errors.New("alerts: alertmanager password without user")
	}
	for _, u := range c.AlertmanagerURLs {
		if _, err := AlertmanagerEndpoint(u); err != nil {
			return fmt.Errorf("alerts: %w", err)
		}
	}
	if c.DashboardURL != "" {
		if u, err := url.Parse(c.DashboardURL); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("alerts: dashboard url %q, want http(s)://host[/path]", c.DashboardURL)
		}
	}
	if c.WebhookSecret != "" {
		if _, err := webhooksig.ParseSecret(c.WebhookSecret); err != nil {
			return fmt.Errorf("alerts: webhook secret: %w", err)
		}
	}
	for _, u := range []string{c.WebhookURL, c.SlackURL, c.TeamsURL} {
		if u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			return fmt.Errorf("alerts: notifier url %q, want http(s)://", u)
		}
	}
	seen := map[ruleKey]bool{}
	for _, o := range c.Overrides {
		if err := o.validate(); err != nil {
			return err
		}
		k := ruleKey{o.Space, o.Code}
		if seen[k] {
			return fmt.Errorf("alerts: override %s given twice", o.target())
		}
		seen[k] = true
	}
	return nil
}

// AlertmanagerHorizonOrDefault is AlertmanagerHorizon, or when 0 four buckets and at
// least 5 minutes: Prometheus sets endsAt four resend periods ahead.
func (c Config) AlertmanagerHorizonOrDefault() time.Duration {
	if c.AlertmanagerHorizon > 0 {
		return c.AlertmanagerHorizon
	}
	return max(4*c.Bucket, 5*time.Minute)
}

// lookback is Lookback, DefaultLookback when zero.
func (c Config) lookback() time.Duration {
	if c.Lookback <= 0 {
		return DefaultLookback
	}
	return c.Lookback
}

// severity is the rule of Config.CriticalDevices applied to a firing alert.
func (c Config) severity(a *Alert) Severity {
	if a.Devices >= uint64(c.CriticalDevices) || a.Finished > 0 && float64(a.Attempts) >= c.CriticalShare*float64(a.Finished) {
		return Critical
	}
	return Warning
}

// alertmanagerPath is Alertmanager's API v2 endpoint for posting alerts.
const alertmanagerPath = "/api/v2/alerts"

// AlertmanagerEndpoint is the /api/v2/alerts URL of an Alertmanager given
// by its base (http://am:9093, with its --web.route-prefix if any); a URL
// that ends in /api/v2/alerts already is kept. Validate checks every
// AlertmanagerURLs entry with it.
func AlertmanagerEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("alertmanager url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("alertmanager url %q: want http(s)://host[:port][/prefix]", raw)
	}
	if !strings.HasSuffix(strings.TrimRight(u.Path, "/"), alertmanagerPath) {
		u.Path = strings.TrimRight(u.Path, "/") + alertmanagerPath
	}
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u, nil
}
