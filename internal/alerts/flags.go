package alerts

import (
	"flag"
	"sort"
	"strings"
	"time"
)

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
	fs.IntVar(&c.StateReplicas, "alert-state-replicas", c.StateReplicas, "replicas of the alert state bucket and the alert stream (3 in a NATS cluster)")
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
