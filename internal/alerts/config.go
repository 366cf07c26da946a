package alerts

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
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
	// alert's endsAt is set (AlertmanagerSink); 0 means 4 buckets, at least
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
		if _, err := alertmanagerEndpoint(u); err != nil {
			return fmt.Errorf("alerts: %w", err)
		}
	}
	if c.DashboardURL != "" {
		if u, err := url.Parse(c.DashboardURL); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("alerts: dashboard url %q, want http(s)://host[/path]", c.DashboardURL)
		}
	}
	if c.WebhookSecret != "" {
		if _, err := secretKey(c.WebhookSecret); err != nil {
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

// Override changes the thresholds for one code. A zero Factor, MinDevices or
// Floor keeps the general setting.
type Override struct {
	// Space restricts the override to one code space; empty matches the code
	// in every space. HRESULTs of FACILITY_WIN32 are keyed by their Win32
	// code in space win32, as the detector counts them.
	Space      codes.Space
	Code       int64
	Disabled   bool
	Factor     float64
	MinDevices int
	// DeviceFactor: the bucket's distinct devices must also exceed
	// DeviceFactor × their baseline, so that a few devices failing in a loop
	// on a code many devices report anyway do not fire.
	DeviceFactor float64
	Floor        float64
}

func (o Override) target() string {
	if o.Space == "" {
		return strconv.FormatInt(o.Code, 10)
	}
	return string(o.Space) + "/" + strconv.FormatInt(o.Code, 10)
}

// String is the ParseOverride form of o.
func (o Override) String() string {
	if o.Disabled {
		return o.target() + ":off"
	}
	var parts []string
	if o.Factor != 0 {
		parts = append(parts, "factor="+strconv.FormatFloat(o.Factor, 'g', -1, 64))
	}
	if o.MinDevices != 0 {
		parts = append(parts, "min_devices="+strconv.Itoa(o.MinDevices))
	}
	if o.Floor != 0 {
		parts = append(parts, "floor="+strconv.FormatFloat(o.Floor, 'g', -1, 64))
	}
	return o.target() + ":" + strings.Join(parts, ",")
}

func (o Override) validate() error {
	switch {
	case o.Factor != 0 && (math.IsNaN(o.Factor) || o.Factor <= 1):
		return fmt.Errorf("alerts: override %s: factor %v, want above 1", o.target(), o.Factor)
	case o.MinDevices < 0:
		return fmt.Errorf("alerts: override %s: negative min devices", o.target())
	case o.Floor < 0 || math.IsNaN(o.Floor):
		return fmt.Errorf("alerts: override %s: negative floor", o.target())
	}
	return nil
}

// ParseOverride reads "CODE:off" or "CODE:factor=F,min_devices=N,floor=X"
// where CODE is a decimal code, a hex HRESULT (0x80070643, which means Win32
// 1603), or SPACE/CODE to name one code space (msi_status/60).
func ParseOverride(s string) (Override, error) {
	target, settings, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || settings == "" {
		return Override{}, fmt.Errorf("override %q: want CODE:off or CODE:key=value,...", s)
	}
	var o Override
	codeText := target
	if sp, c, ok := strings.Cut(target, "/"); ok {
		o.Space, codeText = codes.Space(sp), c
		switch o.Space {
		case codes.SpaceOfficeStatus, codes.SpaceOfficeFinal, codes.SpaceMSIStatus, codes.SpaceWin32, codes.SpaceHRESULT, codes.SpaceOMADM:
		default:
			return Override{}, fmt.Errorf("override %q: unknown code space %q", s, sp)
		}
	}
	v, err := parseCode(codeText)
	if err != nil {
		return Override{}, fmt.Errorf("override %q: %w", s, err)
	}
	o.Space, o.Code = normaliseCode(o.Space, v)
	if settings == "off" {
		o.Disabled = true
		return o, o.validate()
	}
	for kv := range strings.SplitSeq(settings, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return Override{}, fmt.Errorf("override %q: %q is not key=value", s, kv)
		}
		var err error
		switch k {
		case "factor":
			o.Factor, err = strconv.ParseFloat(val, 64)
		case "min_devices":
			o.MinDevices, err = strconv.Atoi(val)
		case "floor":
			o.Floor, err = strconv.ParseFloat(val, 64)
		default:
			return Override{}, fmt.Errorf("override %q: unknown setting %q (factor, min_devices, floor)", s, k)
		}
		if err != nil {
			return Override{}, fmt.Errorf("override %q: %s: %w", s, k, err)
		}
	}
	return o, o.validate()
}

// parseCode reads a decimal code (negative for an HRESULT sent as int32) or
// a 0x hex HRESULT.
func parseCode(s string) (int64, error) {
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		u, err := strconv.ParseUint(h, 16, 32)
		if err != nil {
			return 0, fmt.Errorf("code %q: %w", s, err)
		}
		return int64(int32(uint32(u))), nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("code %q: %w", s, err)
	}
	return v, nil
}

// normaliseCode maps a FACILITY_WIN32 HRESULT to its Win32 code, the way the
// detector's query groups failures; other codes pass unchanged.
func normaliseCode(space codes.Space, v int64) (codes.Space, int64) {
	if v < 0 && v >= math.MinInt32 && uint32(v)&0xFFFF0000 == 0x80070000 {
		return codes.SpaceWin32, int64(uint32(v) & 0xFFFF)
	}
	return space, v
}

type ruleKey struct {
	space codes.Space
	code  int64
}

// rule is the effective thresholds for one code.
type rule struct {
	disabled   bool
	factor     float64
	minDevices uint64
	floor      float64
}

// rules resolves overrides once; an override naming a space wins over one
// naming only the code.
type rules struct {
	def   rule
	exact map[ruleKey]Override
	any   map[int64]Override
}

func newRules(c Config) rules {
	r := rules{
		def:   rule{factor: c.Factor, minDevices: uint64(c.MinDevices), floor: c.Floor},
		exact: map[ruleKey]Override{},
		any:   map[int64]Override{},
	}
	for _, o := range c.Overrides {
		if o.Space == "" {
			r.any[o.Code] = o
		} else {
			r.exact[ruleKey{o.Space, o.Code}] = o
		}
	}
	return r
}

func (r rules) lookup(space codes.Space, code int64) rule {
	o, ok := r.exact[ruleKey{space, code}]
	if !ok {
		o, ok = r.any[code]
	}
	out := r.def
	if !ok {
		return out
	}
	out.disabled = o.Disabled
	if o.Factor != 0 {
		out.factor = o.Factor
	}
	if o.MinDevices != 0 {
		out.minDevices = uint64(o.MinDevices)
	}
	if o.Floor != 0 {
		out.floor = o.Floor
	}
	return out
}

// overrideFlag is the flag.Value of repeated -alert-override flags; the
// first use replaces the defaults.
type overrideFlag struct {
	dst *[]Override
	set bool
}

func (f *overrideFlag) String() string {
	if f.dst == nil {
		return ""
	}
	s := make([]string, len(*f.dst))
	for i, o := range *f.dst {
		s[i] = o.String()
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

func (f *overrideFlag) Set(v string) error {
	if !f.set {
		*f.dst = nil
		f.set = true
	}
	for part := range strings.FieldsSeq(strings.ReplaceAll(v, ";", " ")) {
		o, err := ParseOverride(part)
		if err != nil {
			return err
		}
		*f.dst = append(*f.dst, o)
	}
	return nil
}

// RegisterFlags defines the -alert-* flags on fs, writing into c; call it
// before fs.Parse on a Config holding the defaults. -alert-override may be
// repeated (or hold several overrides separated by spaces or ";"); its first
// use replaces the default overrides.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.Bucket, "alert-bucket", c.Bucket, "spike detection bucket length")
	fs.DurationVar(&c.Lateness, "alert-lateness", c.Lateness, "wait after a bucket closes before evaluating it")
	fs.DurationVar(&c.Window, "alert-window", c.Window, "trailing history read at start to rebuild baselines")
	fs.DurationVar(&c.WarmUp, "alert-warm-up", c.WarmUp, "learning time from the first data before any alert")
	fs.DurationVar(&c.HalfLife, "alert-half-life", c.HalfLife, "EWMA baseline half-life")
	fs.Float64Var(&c.Floor, "alert-floor", c.Floor, "lowest baseline, failed attempts (and devices) per bucket")
	fs.Float64Var(&c.Factor, "alert-factor", c.Factor, "fire when failed attempts exceed factor × their baseline")
	fs.IntVar(&c.MinDevices, "alert-min-devices", c.MinDevices, "fire only when at least this many distinct devices failed")
	fs.Float64Var(&c.DeviceFactor, "alert-device-factor", c.DeviceFactor, "fire only when distinct devices exceed this × their baseline (0: the factor)")
	fs.Float64Var(&c.ResolveFactor, "alert-resolve-factor", c.ResolveFactor, "an open alert stays hot while failed attempts exceed this × its baseline")
	fs.Float64Var(&c.MinShare, "alert-min-share", c.MinShare, "a product-level alert fires only when this share of its version's finished attempts failed with the cause")
	fs.Float64Var(&c.MinCodeShare, "alert-min-code-share", c.MinCodeShare, "a code-level alert fires only when this share of the tenant's finished attempts failed with the cause")
	fs.DurationVar(&c.Lookback, "alert-lookback", c.Lookback, "events read before each bucket to rebuild its install attempts (their commands)")
	fs.IntVar(&c.CriticalDevices, "alert-critical-devices", c.CriticalDevices, "an alert is critical from this many failed devices in its bucket")
	fs.Float64Var(&c.CriticalShare, "alert-critical-share", c.CriticalShare, "an alert is critical when this share of the finished attempts of its product version (code level: tenant) failed")
	fs.DurationVar(&c.Cooldown, "alert-cooldown", c.Cooldown, "time below the resolve threshold before an alert resolves")
	fs.Float64Var(&c.CodeShare, "alert-code-share", c.CodeShare, "suppress a code-level alert when open product alerts hold this share of its failed attempts")
	fs.Var(&overrideFlag{dst: &c.Overrides}, "alert-override", `per-code thresholds, e.g. "3010:off" "1603:factor=2,min_devices=3" "msi_status/60:off" (repeatable; replaces the defaults)`)
	fs.StringVar(&c.StateBucket, "alert-state-bucket", c.StateBucket, "JetStream key-value bucket of alert state shared by replicas")
	fs.IntVar(&c.StateReplicas, "alert-state-replicas", c.StateReplicas, "replicas of the alert state bucket")
	fs.DurationVar(&c.ClaimLease, "alert-claim-lease", c.ClaimLease, "time a replica has to deliver an alert it claimed before another takes over")
	fs.DurationVar(&c.Retention, "alert-retention", c.Retention, "how long resolved alert state is kept")
	fs.StringVar(&c.Replica, "alert-replica", c.Replica, "this replica's name in the alert state")
	fs.StringVar(&c.WebhookURL, "alert-webhook-url", c.WebhookURL, "generic JSON webhook for alerts (Standard Webhooks signature)")
	fs.StringVar(&c.WebhookSecret, "alert-webhook-secret", c.WebhookSecret, "signing secret of the generic webhook (whsec_<base64> or raw, 16 bytes or more)")
	fs.StringVar(&c.SlackURL, "alert-slack-url", c.SlackURL, "Slack incoming-webhook URL")
	fs.StringVar(&c.TeamsURL, "alert-teams-url", c.TeamsURL, "Microsoft Teams incoming-webhook or Workflows URL (Adaptive Card)")
	fs.Var(&listFlag{dst: &c.AlertmanagerURLs}, "alert-alertmanager-url", "Alertmanager base URL (http://am:9093) to post alerts to through its API v2; repeatable or comma-separated, every member of an HA cluster")
	fs.StringVar(&c.AlertmanagerUser, "alert-alertmanager-user", c.AlertmanagerUser, "basic-auth user for the Alertmanagers")
	fs.StringVar(&c.AlertmanagerPassword, "alert-alertmanager-password", c.AlertmanagerPassword, "basic-auth password for the Alertmanagers (prefer the environment variable)")
	fs.StringVar(&c.AlertmanagerToken, "alert-alertmanager-token", c.AlertmanagerToken, "bearer token for the Alertmanagers (prefer the environment variable)")
	fs.DurationVar(&c.AlertmanagerHorizon, "alert-alertmanager-horizon", c.AlertmanagerHorizon, "endsAt of a firing alert, past each post (it is reposted every bucket); 0: 4 buckets, at least 5m")
	fs.StringVar(&c.DashboardURL, "alert-dashboard-url", c.DashboardURL, "the dashboard's base URL as people reach it, for links in alerts (Alertmanager generatorURL)")
	fs.IntVar(&c.NotifyAttempts, "alert-notify-attempts", c.NotifyAttempts, "tries per notification")
	fs.DurationVar(&c.NotifyBackoff, "alert-notify-backoff", c.NotifyBackoff, "first wait between notification tries, doubled per try")
	fs.DurationVar(&c.NotifyMaxBackoff, "alert-notify-max-backoff", c.NotifyMaxBackoff, "longest wait between notification tries")
	fs.DurationVar(&c.NotifyTimeout, "alert-notify-timeout", c.NotifyTimeout, "time limit of one notification request")
}

// ScaleToBucket sets each time setting that given reports as not set (by
// the -alert-* flag name) to its default measured in buckets, so that
// changing only -alert-bucket keeps a consistent configuration: lateness a
// quarter of a bucket, cooldown 5 buckets, warm-up 15, half-life 60, window
// 360. With the default one-minute bucket these are the defaults.
func (c *Config) ScaleToBucket(given func(flag string) bool) {
	scale := []struct {
		flag string
		dst  *time.Duration
		per  float64
	}{
		{"alert-lateness", &c.Lateness, 0.25},
		{"alert-cooldown", &c.Cooldown, 5},
		{"alert-warm-up", &c.WarmUp, 15},
		{"alert-half-life", &c.HalfLife, 60},
		{"alert-window", &c.Window, 360},
	}
	for _, s := range scale {
		if !given(s.flag) {
			*s.dst = time.Duration(float64(c.Bucket) * s.per)
		}
	}
}

// alertmanagerHorizon is AlertmanagerHorizon, or when 0 four buckets and at
// least 5 minutes: Prometheus sets endsAt four resend periods ahead.
func (c Config) alertmanagerHorizon() time.Duration {
	if c.AlertmanagerHorizon > 0 {
		return c.AlertmanagerHorizon
	}
	return max(4*c.Bucket, 5*time.Minute)
}

// listFlag is the flag.Value of a repeatable, comma-separated list; the
// first use replaces the default.
type listFlag struct {
	dst *[]string
	set bool
}

func (f *listFlag) String() string {
	if f.dst == nil {
		return ""
	}
	return strings.Join(*f.dst, ",")
}

func (f *listFlag) Set(v string) error {
	if !f.set {
		*f.dst = nil
		f.set = true
	}
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*f.dst = append(*f.dst, part)
		}
	}
	return nil
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
