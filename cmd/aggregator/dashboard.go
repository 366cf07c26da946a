package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/internal/dashboard"
	"github.com/cspwatch/cspwatch/internal/ops"
	"github.com/cspwatch/cspwatch/internal/store"
)

// dashboardFlags configure the web dashboard (internal/dashboard), served
// by `aggregator dashboard` or beside the consumer by `aggregator run
// --dashboard-addr`.
type dashboardFlags struct {
	// Addr is the dashboard's listen address; "" turns it off (run only).
	Addr string
	// Token, when set, is required as a bearer token or a basic
	// authentication password.
	Token        string
	QueryTimeout time.Duration
	Lookback     time.Duration
	StuckAfter   time.Duration
}

func defaultDashboardFlags(addr string) dashboardFlags {
	return dashboardFlags{Addr: addr, QueryTimeout: 30 * time.Second, Lookback: store.DefaultReportLookback, StuckAfter: 4 * time.Hour}
}

func (d *dashboardFlags) register(fs *flag.FlagSet, addrUsage string) {
	fs.StringVar(&d.Addr, "dashboard-addr", d.Addr, addrUsage)
	fs.StringVar(&d.Token, "dashboard-token", d.Token, "token the dashboard requires: as Authorization: Bearer TOKEN, or as the password a browser asks for (prefer CSPWATCH_DASHBOARD_TOKEN)")
	fs.DurationVar(&d.QueryTimeout, "dashboard-query-timeout", d.QueryTimeout, "longest the ClickHouse reads of one dashboard page may take (504 beyond)")
	fs.DurationVar(&d.Lookback, "dashboard-lookback", d.Lookback, "how much earlier than a page's range events are read to find each attempt's install command")
	fs.DurationVar(&d.StuckAfter, "dashboard-stuck-after", d.StuckAfter, "the overview lists attempts still active this long after their install command")
}

// Validate reports the first inconsistent setting; an empty address is
// valid (off).
func (d *dashboardFlags) Validate() error {
	if d.Addr != "" {
		if err := cli.CheckAddr("dashboard-addr", d.Addr, "127.0.0.1:8082"); err != nil {
			return err
		}
	}
	switch {
	case d.QueryTimeout <= 0:
		return fmt.Errorf("--dashboard-query-timeout: want a positive duration such as 30s, got %v", d.QueryTimeout)
	case d.Lookback <= 0:
		return fmt.Errorf("--dashboard-lookback: want a positive duration such as 24h, got %v", d.Lookback)
	case d.StuckAfter <= 0:
		return fmt.Errorf("--dashboard-stuck-after: want a positive duration such as 4h, got %v", d.StuckAfter)
	}
	return nil
}

// startDashboard opens a read-only store (store.OpenReadOnly: the server
// refuses every write on its connections) and serves the dashboard on
// d.Addr until the returned stop is called. It prints the address to
// stdout once it listens.
func startDashboard(ctx context.Context, d dashboardFlags, ch chFlags, log zerolog.Logger, stdout io.Writer) (stop func(), err error) {
	st, err := store.OpenReadOnly(ctx, ch.config())
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	h, err := dashboard.New(dashboard.Options{
		Source: dashboard.StoreSource{Store: st}, Token: d.Token, QueryTimeout: d.QueryTimeout,
		Lookback: d.Lookback, StuckAfter: d.StuckAfter,
		OnError: func(r *http.Request, err error) {
			log.Warn().Err(err).Str("path", r.URL.Path).Msg("dashboard")
		},
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", d.Addr)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("dashboard listen: %w", err)
	}
	stopHTTP := ops.Start(ops.NewServer(h, d.QueryTimeout+10*time.Second), ln, 5*time.Second, log)
	fmt.Fprintf(stdout, "dashboard listening on http://%s/\n", ln.Addr())
	log.Info().Str("addr", ln.Addr().String()).Bool("token", d.Token != "").Msg("dashboard serving")
	return func() {
		if err := stopHTTP(); err != nil {
			log.Warn().Err(err).Msg("dashboard shutdown")
		}
		st.Close()
	}, nil
}

// dashboardConfig is the configuration of `aggregator dashboard`.
type dashboardConfig struct {
	CH        chFlags
	Dashboard dashboardFlags
	Log       cli.LogFlags
}

const dashboardHelp = `Serves the web dashboard, read-only from ClickHouse: fleet overview,
product, device and alerts pages with their charts. It never writes and
never migrates: give it a ClickHouse user whose profile has readonly = 2
(README "Dashboard"); with any other user it asks the server for readonly
itself. Loopback by default; --dashboard-token (CSPWATCH_DASHBOARD_TOKEN)
requires a token as a bearer token or the password a browser asks for.
The same dashboard can run inside the consumer: aggregator run
--dashboard-addr ADDR.`

// dashboardCmdFlags returns the defaults of `aggregator dashboard` and its
// flag set, which writes into them.
func dashboardCmdFlags() (*dashboardConfig, *flag.FlagSet) {
	c := &dashboardConfig{CH: defaultCHFlags(), Dashboard: defaultDashboardFlags("127.0.0.1:8082"), Log: cli.DefaultLogFlags()}
	fs := flag.NewFlagSet("aggregator dashboard", flag.ContinueOnError)
	c.CH.register(fs, chRead)
	c.Dashboard.register(fs, "HTTP address of the dashboard (port 0 picks a free one)")
	c.Log.Register(fs)
	return c, fs
}

// Validate reports the first unusable setting, naming its flag.
func (c *dashboardConfig) Validate() error {
	if err := c.Dashboard.Validate(); err != nil {
		return err
	}
	if c.Dashboard.Addr == "" {
		return errors.New("--dashboard-addr: want an address host:port such as 127.0.0.1:8082, got none")
	}
	return c.CH.validate()
}

// parseDashboardConfig parses `aggregator dashboard` alone: args, then
// CSPWATCH_*.
func parseDashboardConfig(args []string, getenv func(string) string, stderr io.Writer) (dashboardConfig, error) {
	c, fs := dashboardCmdFlags()
	err := cli.ParseAlone(dashboardSpec(fs), args, getenv, stderr, c.Validate)
	return *c, err
}

func dashboardCommand(stdout, stderr io.Writer) *ffcli.Command {
	c, fs := dashboardCmdFlags()
	return cli.Leaf(dashboardSpec(fs), c.Validate, func(ctx context.Context) error {
		stop, err := startDashboard(ctx, c.Dashboard, c.CH, c.Log.Logger("aggregator", stderr), stdout)
		if err != nil {
			return err
		}
		<-ctx.Done()
		stop()
		return nil
	})
}

// dashboardSpec describes the command whose flags fs holds.
func dashboardSpec(fs *flag.FlagSet) *ffcli.Command {
	return &ffcli.Command{
		Name:       "dashboard",
		ShortUsage: "aggregator dashboard [--dashboard-addr 127.0.0.1:8082] [--dashboard-token T] [flags]",
		ShortHelp:  "serve the web dashboard, read-only from ClickHouse",
		LongHelp:   dashboardHelp,
		FlagSet:    fs,
	}
}
