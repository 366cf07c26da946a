package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cspwatch/cspwatch/internal/cli"
)

// errUsage marks an error in the command line; it exits with status 2.
var errUsage = cli.ErrUsage

// exitCode is the exit status of err (cli.ExitCode).
func exitCode(err error) int { return cli.ExitCode(err) }

// envPrefix is the prefix of the demo's own variables:
// CSPWATCH_DEMO_<FLAG>.
const envPrefix = "CSPWATCH_DEMO"

// serviceEnv are the flags that also take the services' variables
// (CSPWATCH_CLICKHOUSE_ADDR...), so that a demo can run against existing
// servers; the demo's own variables win.
var serviceEnv = []string{"clickhouse-addr", "clickhouse-database", "nats-url"}

// config is what one demo run does. Every field has a flag and a
// CSPWATCH_DEMO_<FLAG> environment override; the ClickHouse and NATS
// addresses also take the services' own CSPWATCH_CLICKHOUSE_ADDR and
// CSPWATCH_NATS_URL, so a demo can run against existing servers.
type config struct {
	Bin      string
	Work     string
	Keep     bool
	Tenant   string
	Devices  int
	Seed     int64
	Duration time.Duration
	Rate     float64
	Workers  int
	Commands bool
	// Quiet hides loadgen's progress lines.
	Quiet bool

	SpikeProduct  string
	SpikeVersion  string
	SpikeCode     int64
	SpikeAt       float64
	SpikeFraction float64

	AlertBucket time.Duration
	Wait        time.Duration

	// ReportHTML is where the HTML report is written at the end ("":
	// not written); DashboardAddr is where the aggregator serves the
	// dashboard (a free port on its host when that one is taken).
	ReportHTML    string
	DashboardAddr string

	ClickHouseAddr string
	Database       string
	NATSURL        string
}

func defaultConfig() config {
	bin := "bin"
	if exe, err := os.Executable(); err == nil {
		bin = filepath.Dir(exe)
	}
	return config{
		Bin:           bin,
		Tenant:        "contoso",
		Devices:       5000,
		Seed:          1,
		Duration:      60 * time.Second,
		Rate:          400,
		Workers:       8,
		Commands:      true,
		SpikeProduct:  "Google Chrome",
		SpikeCode:     1603,
		SpikeAt:       0.4,
		SpikeFraction: 0.6,
		AlertBucket:   5 * time.Second,
		Wait:          45 * time.Second,
		ReportHTML:    "cspwatch-report.html",
		DashboardAddr: "127.0.0.1:8082",
		Database:      "cspwatch",
	}
}

// Validate reports the first unusable setting.
func (c *config) Validate() error {
	switch {
	case c.Devices < 10:
		return fmt.Errorf("--devices: want an integer of at least 10, got %d", c.Devices)
	case c.Duration < 10*time.Second:
		return fmt.Errorf("--duration: want at least 10s (the detector needs a baseline before the spike), got %v", c.Duration)
	case c.Rate <= 0:
		return fmt.Errorf("--rate: want a positive number, got %v", c.Rate)
	case c.SpikeAt <= 0 || c.SpikeAt >= 1:
		return fmt.Errorf("--spike-at: want a fraction of the run in (0, 1) such as 0.4, got %v", c.SpikeAt)
	case c.SpikeFraction <= 0 || c.SpikeFraction > 1:
		return fmt.Errorf("--spike-fraction: want a fraction in (0, 1] such as 0.6, got %v", c.SpikeFraction)
	case c.AlertBucket < time.Second:
		return fmt.Errorf("--alert-bucket: want a duration of at least 1s, got %v", c.AlertBucket)
	case c.Wait <= 0:
		return fmt.Errorf("--wait: want a positive duration such as 45s, got %v", c.Wait)
	case c.Tenant == "":
		return errors.New("--tenant: want a tenant name, got none")
	}
	if err := cli.CheckAddr("dashboard-addr", c.DashboardAddr, "127.0.0.1:8082"); err != nil {
		return err
	}
	if c.ReportHTML != "" {
		// Checked now rather than after the run: the report is its last step.
		abs, err := filepath.Abs(c.ReportHTML)
		if err != nil {
			return fmt.Errorf("--report-html: %w", err)
		}
		if fi, err := os.Stat(filepath.Dir(abs)); err != nil || !fi.IsDir() {
			return fmt.Errorf("--report-html %s: no directory %s", c.ReportHTML, filepath.Dir(abs))
		}
	}
	for _, b := range []string{"ingest", "aggregator", "loadgen"} {
		if _, err := os.Stat(filepath.Join(c.Bin, b)); err != nil {
			return fmt.Errorf("--bin %s: %w (run make build)", c.Bin, err)
		}
	}
	return nil
}

// configFlags returns the defaults of the demo and its flag set, which
// writes into them.
func configFlags() (*config, *flag.FlagSet) {
	c := defaultConfig()
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.StringVar(&c.Bin, "bin", c.Bin, "directory holding the ingest, aggregator and loadgen binaries")
	fs.StringVar(&c.Work, "work", c.Work, "directory for data and logs (default: a new temporary one, removed at the end)")
	fs.BoolVar(&c.Keep, "keep", c.Keep, "keep the stack (ClickHouse, ingest, the aggregator and its dashboard) running after the summary until Ctrl-C, and the work directory (logs, data) after it")
	fs.StringVar(&c.Tenant, "tenant", c.Tenant, "tenant of the synthetic fleet")
	fs.IntVar(&c.Devices, "devices", c.Devices, "devices in the synthetic fleet")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "seed of the synthetic fleet")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "how long the fleet sends")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "device messages per second")
	fs.IntVar(&c.Workers, "workers", c.Workers, "concurrent webhook clients")
	fs.BoolVar(&c.Commands, "commands", c.Commands, "also send the server's messages the devices answer (install commands) to ingest's /v1/syncml/commands")
	fs.BoolVar(&c.Quiet, "quiet", c.Quiet, "hide the load generator's progress lines")
	fs.StringVar(&c.SpikeProduct, "spike-product", c.SpikeProduct, "MSI product whose newest version fails in the spike")
	fs.StringVar(&c.SpikeVersion, "spike-version", c.SpikeVersion, "that product's failing version (default its newest)")
	fs.Int64Var(&c.SpikeCode, "spike-code", c.SpikeCode, "the spike's failure code")
	fs.Float64Var(&c.SpikeAt, "spike-at", c.SpikeAt, "when the spike starts, as a fraction of --duration")
	fs.Float64Var(&c.SpikeFraction, "spike-fraction", c.SpikeFraction, "fraction of the devices whose install fails in the spike")
	fs.DurationVar(&c.AlertBucket, "alert-bucket", c.AlertBucket, "spike detector bucket (production default 1m; short here so the demo is short)")
	fs.DurationVar(&c.Wait, "wait", c.Wait, "longest wait for the pipeline to drain and the alert to fire after sending ends")
	fs.StringVar(&c.ReportHTML, "report-html", c.ReportHTML, "file the HTML report (aggregator report --format html) is written to at the end; empty: none")
	fs.StringVar(&c.DashboardAddr, "dashboard-addr", c.DashboardAddr, "address of the aggregator's web dashboard (a free port on the same host when this one is taken; port 0: always a free one)")
	fs.StringVar(&c.ClickHouseAddr, "clickhouse-addr", c.ClickHouseAddr, "existing ClickHouse (native protocol host:port; also CSPWATCH_CLICKHOUSE_ADDR); empty starts Debian's clickhouse-server on a temporary directory")
	fs.StringVar(&c.Database, "clickhouse-database", c.Database, "ClickHouse database (also CSPWATCH_CLICKHOUSE_DATABASE)")
	fs.StringVar(&c.NATSURL, "nats-url", c.NATSURL, "existing NATS with JetStream (also CSPWATCH_NATS_URL); empty lets ingest embed one")
	return &c, fs
}

// finish completes c once the demo's own flags and variables are in: the
// services' variables, then validation.
func (c *config) finish(fs *flag.FlagSet, getenv func(string) string) error {
	if err := cli.ApplyEnv(fs, getenv, cli.EnvPrefix, serviceEnv...); err != nil {
		return err
	}
	return cli.Check(fs, c.Validate)
}

// parseConfig parses the demo's flags alone: args, then CSPWATCH_DEMO_*,
// then the services' variables.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	c, fs := configFlags()
	if err := cli.Parse(fs, args, getenv, envPrefix, stderr); err != nil {
		return *c, err
	}
	return *c, c.finish(fs, getenv)
}
