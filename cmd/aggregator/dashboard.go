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

	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/dashboard"
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
		if _, _, err := net.SplitHostPort(d.Addr); err != nil {
			return fmt.Errorf("dashboard addr %q: %v", d.Addr, err)
		}
	}
	switch {
	case d.QueryTimeout <= 0:
		return errors.New("dashboard query timeout must be positive")
	case d.Lookback <= 0:
		return errors.New("dashboard lookback must be positive")
	case d.StuckAfter <= 0:
		return errors.New("dashboard stuck-after must be positive")
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
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: d.QueryTimeout + 10*time.Second, IdleTimeout: time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("dashboard server")
		}
	}()
	fmt.Fprintf(stdout, "dashboard listening on http://%s/\n", ln.Addr())
	log.Info().Str("addr", ln.Addr().String()).Bool("token", d.Token != "").Msg("dashboard serving")
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-done
		st.Close()
	}, nil
}

// dashboardConfig is the configuration of `aggregator dashboard`.
type dashboardConfig struct {
	CH        chFlags
	Dashboard dashboardFlags
	LogFormat string
	LogLevel  string
}

const dashboardUsage = `usage: aggregator dashboard [--dashboard-addr 127.0.0.1:8082] [--dashboard-token T] [flags]

Serves the web dashboard, read-only from ClickHouse: fleet overview,
product, device and alerts pages with their charts. It never writes and
never migrates: give it a ClickHouse user whose profile has readonly = 2
(README "Dashboard"); with any other user it asks the server for readonly
itself. Loopback by default; --dashboard-token (CSPWATCH_DASHBOARD_TOKEN)
requires a token as a bearer token or the password a browser asks for.
The same dashboard can run inside the consumer: aggregator run
--dashboard-addr ADDR.

Flags:`

func parseDashboardConfig(args []string, getenv func(string) string, stderr io.Writer) (dashboardConfig, error) {
	c := dashboardConfig{CH: defaultCHFlags(), Dashboard: defaultDashboardFlags("127.0.0.1:8082"), LogFormat: "json", LogLevel: "info"}
	fs := flag.NewFlagSet("aggregator dashboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.CH.register(fs)
	c.Dashboard.register(fs, "HTTP address of the dashboard (port 0 picks a free one)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: json or console")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: trace, debug, info, warn, error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, dashboardUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, getenv); err != nil {
		return c, err
	}
	err := c.Dashboard.Validate()
	if err == nil && c.Dashboard.Addr == "" {
		err = errors.New("dashboard addr: empty")
	}
	if err == nil {
		err = c.CH.config().Validate()
	}
	if err == nil && c.LogFormat != "json" && c.LogFormat != "console" {
		err = fmt.Errorf("log format %q: want json or console", c.LogFormat)
	}
	if err == nil {
		if _, perr := zerolog.ParseLevel(c.LogLevel); perr != nil {
			err = fmt.Errorf("log level %q: %v", c.LogLevel, perr)
		}
	}
	if err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	return c, nil
}

// dashboardCmd serves the dashboard until ctx ends.
func dashboardCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseDashboardConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(c.LogFormat, c.LogLevel, stderr)
	stop, err := startDashboard(ctx, c.Dashboard, c.CH, log, stdout)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	return nil
}
