package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/cspwatch/cspwatch/internal/aggregator"
	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/internal/webhooksig"
)

// The checks of this file are the packages' Validate, made here where the
// flags are known, so that an invalid value names its flag and says what
// it expects (--batch-size: want an integer of 1 or more, got "0"). The
// packages' Validate stays as their defence.

// checkRunFlags checks the flags of `aggregator run` whose values the
// packages would refuse without naming the flag.
func checkRunFlags(fs *flag.FlagSet, c *runConfig) error {
	if err := cli.CheckRules(fs, aggRules(c.Agg)...); err != nil {
		return err
	}
	if c.Alerts {
		if err := cli.CheckRules(fs, alertRules(c.Alert)...); err != nil {
			return err
		}
		for _, name := range []string{"alert-webhook-url", "alert-slack-url", "alert-teams-url", "alert-dashboard-url"} {
			if v := fs.Lookup(name).Value.String(); v != "" {
				if err := cli.CheckURL(name, v, "https://hooks.example.com/x", "http", "https"); err != nil {
					return err
				}
			}
		}
		for _, u := range c.Alert.AlertmanagerURLs {
			if _, err := alerts.AlertmanagerEndpoint(u); err != nil {
				return &cli.ValueError{Flag: "alert-alertmanager-url", Value: u, Want: "an Alertmanager base URL such as http://am:9093"}
			}
		}
	}
	return nil
}

func aggRules(a aggregator.Config) []cli.Rule {
	return []cli.Rule{
		{Flag: "durable", OK: a.Durable != "", Want: "a consumer name"},
		{Flag: "batch-size", OK: a.BatchSize >= 1, Want: "an integer of 1 or more"},
		{Flag: "batch-wait", OK: a.BatchWait > 0, Want: "a duration above 0 such as 1s"},
		{Flag: "ack-wait", OK: a.AckWait >= time.Second, Want: "a duration of 1s or more such as 30s"},
		{Flag: "dlq-replicas", OK: a.DeadLetterReplicas >= 1 && a.DeadLetterReplicas <= 5, Want: "an integer from 1 to 5"},
		{Flag: "max-deliver", OK: a.MaxDeliver == -1 || a.MaxDeliver >= 2, Want: "-1 (unbounded) or an integer of 2 or more, so that a crash between insert and ack is survivable"},
		{Flag: "max-ack-pending", OK: a.MaxAckPending >= 2*a.BatchSize, Want: fmt.Sprintf("at least two batches (2 x --batch-size = %d)", 2*a.BatchSize)},
		{Flag: "check-all-lookback", OK: a.CheckAllLookback >= 0, Want: "a duration of 0 or more such as 1h"},
		{Flag: "ready-timeout", OK: a.ReadyTimeout > 0, Want: "a duration above 0 such as 5s"},
		{Flag: "shutdown-timeout", OK: a.ShutdownTimeout > 0, Want: "a duration above 0 such as 30s"},
	}
}

func alertRules(c alerts.Config) []cli.Rule {
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	share := func(f float64) bool { return finite(f) && f > 0 && f <= 1 }
	secretOK := true
	if c.WebhookSecret != "" {
		_, err := webhooksig.ParseSecret(c.WebhookSecret)
		secretOK = err == nil
	}
	return []cli.Rule{
		{Flag: "alert-bucket", OK: c.Bucket >= time.Second && c.Bucket%time.Second == 0, Want: "whole seconds, at least 1s, such as 1m"},
		{Flag: "alert-lateness", OK: c.Lateness >= 0 && c.Lateness < c.Bucket, Want: fmt.Sprintf("a duration from 0 to less than --alert-bucket (%v)", c.Bucket)},
		{Flag: "alert-window", OK: c.Window >= c.Bucket, Want: fmt.Sprintf("a duration of at least --alert-bucket (%v)", c.Bucket)},
		{Flag: "alert-window", OK: c.Bucket <= 0 || c.Window/c.Bucket <= 100_000, Want: "at most 100000 buckets"},
		{Flag: "alert-warm-up", OK: c.WarmUp >= 0 && c.WarmUp < c.Window, Want: fmt.Sprintf("a duration from 0 to less than --alert-window (%v)", c.Window)},
		{Flag: "alert-half-life", OK: c.HalfLife >= c.Bucket, Want: fmt.Sprintf("a duration of at least --alert-bucket (%v)", c.Bucket)},
		{Flag: "alert-floor", OK: finite(c.Floor) && c.Floor > 0, Want: "a number above 0 such as 1"},
		{Flag: "alert-factor", OK: finite(c.Factor) && c.Factor > 1, Want: "a number above 1 such as 3"},
		{Flag: "alert-device-factor", OK: finite(c.DeviceFactor) && (c.DeviceFactor == 0 || c.DeviceFactor >= 1), Want: "0 (the factor) or a number of 1 or more"},
		{Flag: "alert-min-share", OK: finite(c.MinShare) && c.MinShare >= 0 && c.MinShare < 1, Want: "a share from 0 to less than 1 such as 0.05"},
		{Flag: "alert-min-code-share", OK: finite(c.MinCodeShare) && c.MinCodeShare >= 0 && c.MinCodeShare < 1, Want: "a share from 0 to less than 1 such as 0.01"},
		{Flag: "alert-lookback", OK: c.Lookback >= 0, Want: "a duration of 0 or more such as 1h"},
		{Flag: "alert-critical-devices", OK: c.CriticalDevices >= 1, Want: "an integer of 1 or more"},
		{Flag: "alert-critical-share", OK: share(c.CriticalShare), Want: "a share above 0 and at most 1 such as 0.5"},
		{Flag: "alert-min-devices", OK: c.MinDevices >= 1, Want: "an integer of 1 or more"},
		{Flag: "alert-resolve-factor", OK: finite(c.ResolveFactor) && c.ResolveFactor > 0 && c.ResolveFactor <= c.Factor, Want: fmt.Sprintf("a number above 0 and at most --alert-factor (%v)", c.Factor)},
		{Flag: "alert-cooldown", OK: c.Cooldown >= 0, Want: "a duration of 0 or more such as 10m"},
		{Flag: "alert-code-share", OK: share(c.CodeShare), Want: "a share above 0 and at most 1 such as 0.5"},
		{Flag: "alert-state-bucket", OK: c.StateBucket != "" && !strings.ContainsAny(c.StateBucket, ". *>\t\n/"), Want: "a key-value bucket name without '.', '*', '>', '/' or spaces"},
		{Flag: "alert-state-replicas", OK: c.StateReplicas >= 1 && c.StateReplicas <= 5, Want: "an integer from 1 to 5"},
		{Flag: "alert-claim-lease", OK: c.ClaimLease >= time.Second, Want: "a duration of 1s or more such as 30s"},
		{Flag: "alert-retention", OK: c.Retention > c.Cooldown+c.Bucket, Want: fmt.Sprintf("a duration longer than --alert-cooldown plus --alert-bucket (%v)", c.Cooldown+c.Bucket)},
		{Flag: "alert-replica", OK: c.Replica != "", Want: "this replica's name"},
		{Flag: "alert-webhook-secret", OK: secretOK && (c.WebhookURL == "" || len(c.WebhookSecret) >= 16 || strings.HasPrefix(c.WebhookSecret, "whsec_")),
			Want: "whsec_<base64> or a raw secret of 16 bytes or more (the generic webhook is always signed)"},
		{Flag: "alert-notify-attempts", OK: c.NotifyAttempts >= 1 && c.NotifyAttempts <= 20, Want: "an integer from 1 to 20"},
		{Flag: "alert-notify-backoff", OK: c.NotifyBackoff > 0, Want: "a duration above 0 such as 1s"},
		{Flag: "alert-notify-max-backoff", OK: c.NotifyMaxBackoff >= c.NotifyBackoff, Want: fmt.Sprintf("a duration of at least --alert-notify-backoff (%v)", c.NotifyBackoff)},
		{Flag: "alert-notify-timeout", OK: c.NotifyTimeout > 0, Want: "a duration above 0 such as 10s"},
		{Flag: "alert-alertmanager-horizon", OK: c.AlertmanagerHorizon == 0 || c.AlertmanagerHorizon >= 2*c.Bucket,
			Want: fmt.Sprintf("0 (4 buckets, at least 5m) or at least two buckets (%v): alerts are resent every bucket", 2*c.Bucket)},
		{Flag: "alert-alertmanager-token", OK: c.AlertmanagerToken == "" || c.AlertmanagerUser == "", Want: "no token when --alert-alertmanager-user is set (one or the other)"},
		{Flag: "alert-alertmanager-password", OK: c.AlertmanagerPassword == "" || c.AlertmanagerUser != "", Want: "a password only with --alert-alertmanager-user"},
	}
}

// checkFlags checks the ClickHouse flags the store would refuse without
// naming them: the database name, the timeouts, the TLS settings and
// files (a CA file that is not there is a setting to fix, not a server to
// wait for).
func (c *chFlags) checkFlags() error {
	refuse := func(name, value, want string) error { return &cli.ValueError{Flag: name, Value: value, Want: want} }
	switch {
	case c.Database == "" || strings.ContainsAny(c.Database, "`.; \t\n"):
		return refuse("clickhouse-database", c.Database, "a database name without '.', ';', '`' or spaces")
	case c.DialTimeout <= 0:
		return refuse("clickhouse-dial-timeout", c.DialTimeout.String(), "a duration above 0 such as 10s")
	case c.ReadTimeout <= 0:
		return refuse("clickhouse-read-timeout", c.ReadTimeout.String(), "a duration above 0 such as 5m")
	case c.Cert != "" && c.Key == "":
		return refuse("clickhouse-key", c.Key, "a key file with --clickhouse-cert (they go together)")
	case c.Key != "" && c.Cert == "":
		return refuse("clickhouse-cert", c.Cert, "a certificate file with --clickhouse-key (they go together)")
	case !c.TLS && (c.CA != "" || c.Cert != "" || c.SkipVerify):
		return refuse("clickhouse-tls", "false", "true when --clickhouse-ca, --clickhouse-cert or --clickhouse-skip-verify is given")
	}
	for _, f := range []struct{ name, path string }{{"clickhouse-ca", c.CA}, {"clickhouse-cert", c.Cert}, {"clickhouse-key", c.Key}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return refuse(f.name, f.path, "a readable PEM file")
		}
	}
	return nil
}
