package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/aggregator"
	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/catalog"
	"github.com/cspwatch/cspwatch/internal/envflag"
	"github.com/cspwatch/cspwatch/internal/probe"
	"github.com/cspwatch/cspwatch/internal/store"
)

// errUsage marks an error in the command line; it exits with status 2.
var errUsage = envflag.ErrUsage

// Main runs one aggregator subcommand. It is what main calls and what the
// end-to-end tests call, with their own context, environment and streams.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return run(ctx, args, getenv, stdout, stderr)
	case "report":
		return report(ctx, args, getenv, stdout, stderr)
	case "dashboard":
		return dashboardCmd(ctx, args, getenv, stdout, stderr)
	case "alerts":
		return listAlerts(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, args, getenv, stdout, stderr)
	case "catalog":
		return catalogCmd(ctx, args, getenv, stdout, stderr)
	case "sql":
		return sqlCmd(ctx, args, getenv, stdout, stderr)
	case "dlq":
		return dlq(ctx, args, getenv, stdout, stderr)
	case "healthcheck":
		// The runtime image has no shell or curl: the binary probes itself.
		return probe.Command(ctx, "aggregator", args, getenv, "http://127.0.0.1:8081/readyz")
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q (want run, report, dashboard, alerts, catalog, sql, dlq, migrate or healthcheck)", errUsage, cmd)
}

const usage = `usage:
  aggregator [run] [flags]                      consume install events from NATS into ClickHouse
                                                and detect failure-code spikes (--alerts=false: off)
  aggregator report [--since 24h] [--tenant T]  print the fleet summary from ClickHouse
                                                (--format html: one self-contained page with charts)
  aggregator dashboard [--dashboard-addr A]     serve the web dashboard, read-only from ClickHouse
                                                (or inside run: aggregator run --dashboard-addr A)
  aggregator alerts [--since 24h] [--tenant T]  print the spike alerts from ClickHouse
  aggregator dlq list [--limit N] [--json]      list the dead-lettered messages (read-only)
  aggregator dlq replay (--seq N... | --all) [--dry-run] [--keep]
                                                republish dead letters that decode to their
                                                original subject, then remove them from the DLQ
  aggregator catalog load [--dry-run] FILE      check a product file (CSV or JSON) and store its
                                                names in the product catalog (source admin)
  aggregator catalog list [--tenant T]          print the product catalog's best names
  aggregator sql list                           the analyses of schema/queries.sql and their parameters
  aggregator sql render [--param K=V ...] [NAME...]
                                                print them with their parameters as literals, for
                                                clickhouse-client --multiquery (18.16 included)
  aggregator sql run NAME... [--param K=V ...]  run them on ClickHouse and print their rows
  aggregator migrate                            apply the ClickHouse migrations and exit
  aggregator healthcheck [--url U]              exit 0 when U (default the local /readyz) answers 200
  aggregator <command> -h                       the command's flags
Every flag can be set as CSPWATCH_<FLAG> in the environment (e.g. CSPWATCH_CLICKHOUSE_ADDR).
`

func exitCode(err error) int {
	if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// chFlags are the ClickHouse settings shared by every subcommand.
type chFlags struct {
	Addr, Database, User, Password string
	TLS, SkipVerify                bool
	CA, Cert, Key                  string
	DialTimeout, ReadTimeout       time.Duration
}

func defaultCHFlags() chFlags {
	d := store.DefaultConfig()
	return chFlags{Addr: strings.Join(d.Addrs, ","), Database: d.Database, User: d.User,
		DialTimeout: d.DialTimeout, ReadTimeout: d.ReadTimeout}
}

func (c *chFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "clickhouse-addr", c.Addr, "ClickHouse native-protocol address(es) host:port, comma-separated")
	fs.StringVar(&c.Database, "clickhouse-database", c.Database, "ClickHouse database (created if missing)")
	fs.StringVar(&c.User, "clickhouse-user", c.User, "ClickHouse user")
	fs.StringVar(&c.Password, "clickhouse-password", c.Password, "ClickHouse password (prefer the environment variable)")
	fs.BoolVar(&c.TLS, "clickhouse-tls", c.TLS, "connect to ClickHouse with TLS (native port 9440)")
	fs.StringVar(&c.CA, "clickhouse-ca", c.CA, "CA file verifying ClickHouse's certificate")
	fs.StringVar(&c.Cert, "clickhouse-cert", c.Cert, "client certificate for ClickHouse mutual TLS")
	fs.StringVar(&c.Key, "clickhouse-key", c.Key, "client key for ClickHouse mutual TLS")
	fs.BoolVar(&c.SkipVerify, "clickhouse-skip-verify", c.SkipVerify, "do not verify ClickHouse's certificate (development only)")
	fs.DurationVar(&c.DialTimeout, "clickhouse-dial-timeout", c.DialTimeout, "ClickHouse connect timeout")
	fs.DurationVar(&c.ReadTimeout, "clickhouse-read-timeout", c.ReadTimeout, "longest wait for one ClickHouse answer (keep above the slowest batch insert)")
}

func (c *chFlags) config() store.Config {
	s := store.DefaultConfig()
	s.Addrs = nil
	for _, a := range strings.Split(c.Addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			s.Addrs = append(s.Addrs, a)
		}
	}
	s.Database, s.User, s.Password = c.Database, c.User, c.Password
	s.TLS, s.TLSCA, s.TLSCert, s.TLSKey, s.TLSSkipVerify = c.TLS, c.CA, c.Cert, c.Key, c.SkipVerify
	s.DialTimeout, s.ReadTimeout = c.DialTimeout, c.ReadTimeout
	return s
}

// runConfig is the configuration of `aggregator run`.
type runConfig struct {
	Listen    string
	LogFormat string
	LogLevel  string
	Migrate   bool

	NATS               bus.ConnConfig
	NATSConnectTimeout time.Duration
	CH                 chFlags
	Agg                aggregator.Config
	// Alerts runs the spike detector (internal/alerts) in this process.
	Alerts bool
	Alert  alerts.Config
	// Products is a product file (package catalog) stored in the product
	// catalog as the administrator's names at start; "" for none.
	Products string
	// Dashboard serves the web dashboard beside the consumer when its
	// address is set (off by default), on read-only connections.
	Dashboard dashboardFlags
}

func defaultRunConfig() runConfig {
	nc := bus.DefaultConnConfig()
	nc.Name = "cspwatch-aggregator"
	return runConfig{
		Listen:             "127.0.0.1:8081",
		LogFormat:          "json",
		LogLevel:           "info",
		Migrate:            true,
		NATS:               nc,
		NATSConnectTimeout: time.Minute,
		CH:                 defaultCHFlags(),
		Agg:                aggregator.DefaultConfig(),
		Alerts:             true,
		Alert:              alerts.DefaultConfig(),
		Dashboard:          defaultDashboardFlags(""),
	}
}

// Validate reports the first inconsistent setting.
func (c *runConfig) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q: %v", c.Listen, err)
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		return fmt.Errorf("log format %q: want json or console", c.LogFormat)
	}
	if _, err := zerolog.ParseLevel(c.LogLevel); err != nil {
		return fmt.Errorf("log level %q: %v", c.LogLevel, err)
	}
	if c.NATSConnectTimeout <= 0 {
		return errors.New("nats connect timeout must be positive")
	}
	if err := c.NATS.Validate(); err != nil {
		return err
	}
	if err := c.CH.config().Validate(); err != nil {
		return err
	}
	if c.Alerts {
		if err := c.Alert.Validate(); err != nil {
			return err
		}
	}
	if err := c.Dashboard.Validate(); err != nil {
		return err
	}
	return c.Agg.Validate()
}

func parseRunConfig(args []string, getenv func(string) string, stderr io.Writer) (runConfig, error) {
	c := defaultRunConfig()
	fs := flag.NewFlagSet("aggregator run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Listen, "listen", c.Listen, "HTTP address of /metrics, /healthz and /readyz (port 0 picks a free one)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: json or console")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: trace, debug, info, warn, error")
	fs.BoolVar(&c.Migrate, "migrate", c.Migrate, "apply the ClickHouse migrations at start")
	fs.StringVar(&c.Products, "products", c.Products, "product file (CSV or JSON: tenant,csp,target_id,name,version,publisher) stored in the product catalog at start, as aggregator catalog load does")

	fs.StringVar(&c.NATS.URL, "nats-url", c.NATS.URL, "NATS server URL(s), comma-separated")
	c.NATS.AuthFlags(fs)
	fs.DurationVar(&c.NATSConnectTimeout, "nats-connect-timeout", c.NATSConnectTimeout, "how long to wait for NATS at start")

	c.CH.register(fs)

	fs.StringVar(&c.Agg.Durable, "durable", c.Agg.Durable, "durable consumer name shared by every aggregator process")
	fs.IntVar(&c.Agg.BatchSize, "batch-size", c.Agg.BatchSize, "events per ClickHouse insert, at most")
	fs.DurationVar(&c.Agg.BatchWait, "batch-wait", c.Agg.BatchWait, "longest time a batch stays open")
	fs.DurationVar(&c.Agg.AckWait, "ack-wait", c.Agg.AckWait, "consumer ack wait (InProgress is sent every third of it while a batch is held)")
	fs.IntVar(&c.Agg.MaxDeliver, "max-deliver", c.Agg.MaxDeliver, "deliveries of one message before the server gives up on it and it is dead-lettered unless ClickHouse holds it; -1 is unbounded")
	fs.IntVar(&c.Agg.MaxAckPending, "max-ack-pending", c.Agg.MaxAckPending, "unacknowledged messages across all processes (at least 2 x batch size x processes)")
	fs.BoolVar(&c.Agg.CheckAll, "check-all", c.Agg.CheckAll, "check every chunk against ClickHouse and drop events already stored (storage is idempotent without it; this catches an event republished after the stream's duplicate window)")
	fs.DurationVar(&c.Agg.CheckAllLookback, "check-all-lookback", c.Agg.CheckAllLookback, "how far before a chunk's events --check-all looks for a first copy (the MDM server's retry horizon)")
	fs.DurationVar(&c.Agg.ReadyTimeout, "ready-timeout", c.Agg.ReadyTimeout, "longest a ClickHouse ping may take before /readyz answers 503")
	fs.DurationVar(&c.Agg.ShutdownTimeout, "shutdown-timeout", c.Agg.ShutdownTimeout, "how long the last batch may take to be stored at shutdown")

	fs.BoolVar(&c.Alerts, "alerts", c.Alerts, "detect failure-code spikes from ClickHouse and deliver alerts (set false to turn off)")
	c.Alert.RegisterFlags(fs)
	c.Dashboard.register(fs, "HTTP address of the web dashboard, e.g. 127.0.0.1:8082 (empty: off; aggregator dashboard serves it alone)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: aggregator run [flags]\n\nEvery flag can be set as CSPWATCH_<FLAG> in the environment (e.g. CSPWATCH_NATS_URL).")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, getenv); err != nil {
		return c, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true }) // flags and CSPWATCH_* alike
	c.Alert.ScaleToBucket(func(name string) bool { return given[name] })
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	return c, nil
}

// parseFlags parses args, then sets every flag not given on the command
// line from its CSPWATCH_<FLAG> environment variable.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	return envflag.Parse(fs, args, getenv, "CSPWATCH_")
}

func newLogger(format, level string, stderr io.Writer) zerolog.Logger {
	var w io.Writer = stderr
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.RFC3339}
	}
	lvl, _ := zerolog.ParseLevel(level)
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("service", "aggregator").Logger()
}

// openStore opens ClickHouse, retrying with back-off until it answers or ctx
// ends: at start ClickHouse may still be coming up.
func openStore(ctx context.Context, cfg store.Config, log zerolog.Logger) (*store.Store, error) {
	delay := 200 * time.Millisecond
	for {
		st, err := store.Open(ctx, cfg)
		if err == nil {
			return st, nil
		}
		if !store.Retryable(err) || ctx.Err() != nil {
			return nil, err
		}
		log.Warn().Err(err).Dur("retry_in", delay).Msg("clickhouse not reachable yet")
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// run consumes until ctx ends, then flushes the open batch and stops. It
// prints the HTTP address to stdout once it listens.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseRunConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(c.LogFormat, c.LogLevel, stderr)
	// The product file is checked before anything starts: a bad file stops
	// the start with every error it holds.
	var products []store.AdminProduct
	if c.Products != "" {
		if products, err = catalog.ReadFile(c.Products); err != nil {
			return fmt.Errorf("%w: products: %v", errUsage, err)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var agg *aggregator.Aggregator
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	ready := make(chan struct{})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-ready:
			if agg.Ready() {
				fmt.Fprintln(w, "ready")
				return
			}
		default:
		}
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	})
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("http server")
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	fmt.Fprintf(stdout, "aggregator listening on http://%s\n", ln.Addr())

	st, err := openStore(ctx, c.CH.config(), log)
	if err != nil {
		return err
	}
	defer st.Close()
	if c.Migrate {
		res, err := st.Migrate(ctx)
		if err != nil {
			return err
		}
		log.Info().Ints("applied", res.Applied).Ints("pending", res.Pending).Msg("migrations")
	}
	if len(products) > 0 {
		if err := st.InsertAdminProducts(ctx, products, time.Now()); err != nil {
			return fmt.Errorf("products %s: %w", c.Products, err)
		}
		log.Info().Str("file", c.Products).Int("products", len(products)).Msg("product catalog loaded")
	}

	nc := c.NATS
	nc.Log = log.With().Str("component", "nats-client").Logger()
	cctx, cancel := context.WithTimeout(ctx, c.NATSConnectTimeout)
	conn, err := bus.Connect(cctx, nc)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close()

	agg, err = aggregator.New(conn, st, c.Agg, log, reg)
	if err != nil {
		return err
	}
	stopAlerts, err := startAlerts(ctx, c, conn, st, log, reg)
	if err != nil {
		return err
	}
	stopDashboard := func() {}
	if c.Dashboard.Addr != "" {
		if stopDashboard, err = startDashboard(ctx, c.Dashboard, c.CH, log.With().Str("component", "dashboard").Logger(), stdout); err != nil {
			stopAlerts()
			return err
		}
	}
	close(ready)
	log.Info().Str("nats", nc.URL).Strs("clickhouse", c.CH.config().Addrs).Int("batch_size", c.Agg.BatchSize).
		Dur("batch_wait", c.Agg.BatchWait).Str("durable", c.Agg.Durable).Bool("alerts", c.Alerts).Msg("aggregator running")
	err = agg.Run(ctx)
	stopDashboard()
	stopAlerts()
	log.Info().Err(err).Msg("aggregator stopped")
	return err
}

// startAlerts runs the spike detector beside the aggregator when enabled.
// It reads the events the aggregator stored, so every replica sees every
// event; the returned function stops it and waits for it.
func startAlerts(ctx context.Context, c runConfig, conn *nats.Conn, st *store.Store, log zerolog.Logger, reg prometheus.Registerer) (func(), error) {
	if !c.Alerts {
		return func() {}, nil
	}
	js, err := jetstream.New(conn)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	sinks, err := alerts.NewSinks(c.Alert, js, st.Conn(), nil)
	if err != nil {
		return nil, err
	}
	eng, err := alerts.NewEngine(alerts.EngineOptions{
		Config: c.Alert, Source: alerts.ClickHouseSource{Conn: st.Conn()}, JetStream: js, Sinks: sinks,
		Log: log.With().Str("component", "alerts").Logger(), Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := eng.Run(actx); err != nil {
			log.Error().Err(err).Msg("alerts stopped")
		}
	}()
	return func() { cancel(); <-done }, nil
}

// migrate applies the migrations and exits.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ch := defaultCHFlags()
	fs := flag.NewFlagSet("aggregator migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ch.register(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	cfg := ch.config()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	st, err := store.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrations applied %v pending %v\n", res.Applied, res.Pending)
	return nil
}
