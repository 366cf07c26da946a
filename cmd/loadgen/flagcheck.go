package main

import (
	"flag"

	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/internal/sim/loadgen"
)

// checkRunFlags checks `loadgen run`'s flags where they are known, so that
// an invalid value names its flag and says what it expects; the package's
// Validate stays as defence.
func checkRunFlags(fs *flag.FlagSet, c loadgen.Config) error {
	if err := cli.CheckURL("url", c.URL, "http://127.0.0.1:8080", "http", "https"); err != nil {
		return err
	}
	err := cli.CheckRules(fs,
		cli.Rule{Flag: "workers", OK: c.Workers > 0, Want: "a positive integer"},
		cli.Rule{Flag: "rate", OK: c.Rate >= 0, Want: "0 (as fast as possible) or a positive number of messages per second"},
		cli.Rule{Flag: "duration", OK: c.Duration > 0 || c.Count > 0, Want: "a duration above 0 such as 10s, or a --count"},
		cli.Rule{Flag: "count", OK: c.Count >= 0, Want: "0 (until --duration) or a positive number"},
		cli.Rule{Flag: "token", OK: c.Secret == "" || c.Token == "", Want: "no token with --secret (one or the other)"},
		cli.Rule{Flag: "tenant", OK: c.Secret == "" || c.Tenant != "", Want: "the tenant a --secret belongs to"},
		cli.Rule{Flag: "retries", OK: c.Retries >= 0, Want: "0 or more"},
		cli.Rule{Flag: "retry-wait", OK: c.RetryWait >= 0, Want: "a duration of 0 or more such as 500ms"},
	)
	if err != nil {
		return err
	}
	return c.Validate()
}

// checkBenchFlags checks `loadgen bench`'s flags before anything starts.
func checkBenchFlags(fs *flag.FlagSet, c loadgen.BenchConfig, o benchOptions, ff fleetFlags) error {
	err := cli.CheckRules(fs,
		cli.Rule{Flag: "phase", OK: c.Phase > 0, Want: "a duration above 0 such as 5s"},
		cli.Rule{Flag: "workers", OK: c.Workers > 0, Want: "a positive integer"},
		cli.Rule{Flag: "raw-size", OK: c.RawSize > 0, Want: "a positive number of bytes such as 300"},
		cli.Rule{Flag: "raw-publishers", OK: c.RawConns > 0, Want: "a positive integer"},
		cli.Rule{Flag: "max-pending", OK: o.maxPending > 0, Want: "a positive integer"},
		cli.Rule{Flag: "pregenerate", OK: o.pregen >= 0, Want: "0 or more MB"},
	)
	if err != nil {
		return err
	}
	_, err = ff.config()
	return err
}
