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

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/aggregator"
	"github.com/cspwatch/cspwatch/internal/alerts"
	alertsink "github.com/cspwatch/cspwatch/internal/alerts/sink"
	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/catalog"
	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/internal/ops"
	"github.com/cspwatch/cspwatch/internal/store"
)

// chFlags are the ClickHouse settings shared by every subcommand.
type chFlags struct {
	Addr, Database, User, Password string
	TLS, SkipVerify                bool
	CA, Cert, Key                  string
	DialTimeout, ReadTimeout       time.Duration
	Cluster                        string
	InsertQuorum                   int
}

func defaultCHFlags() chFlags {
	d := store.DefaultConfig()
	return chFlags{Addr: strings.Join(d.Addrs, ","), Database: d.Database, User: d.User,
		DialTimeout: d.DialTimeout, ReadTimeout: d.ReadTimeout}
}

// chAccess says what a command does with ClickHouse, which its flags
// describe: a command that only reads never creates the database.
type chAccess int

const (
	chRead          chAccess = iota // reads only, on a read-only connection
	chWrite                         // writes, creating the database if missing
	chWriteExisting                 // writes into a database that must exist
)

// register defines the ClickHouse flags on fs; a reading command's
// describe nothing it does not do.
func (c *chFlags) register(fs *flag.FlagSet, access chAccess) {
	fs.StringVar(&c.Addr, "clickhouse-addr", c.Addr, "ClickHouse native-protocol address(es) host:port, comma-separated")
	if access == chWrite {
		fs.StringVar(&c.Database, "clickhouse-database", c.Database, "ClickHouse database (created if missing)")
	} else {
		fs.StringVar(&c.Database, "clickhouse-database", c.Database, "ClickHouse database (it must exist)")
	}
	fs.StringVar(&c.User, "clickhouse-user", c.User, "ClickHouse user")
	fs.StringVar(&c.Password, "clickhouse-password", c.Password, "ClickHouse password (prefer the environment variable)")
	fs.BoolVar(&c.TLS, "clickhouse-tls", c.TLS, "connect to ClickHouse with TLS (native port 9440)")
	fs.StringVar(&c.CA, "clickhouse-ca", c.CA, "CA file verifying ClickHouse's certificate")
	fs.StringVar(&c.Cert, "clickhouse-cert", c.Cert, "client certificate for ClickHouse mutual TLS")
	fs.StringVar(&c.Key, "clickhouse-key", c.Key, "client key for ClickHouse mutual TLS")
	fs.BoolVar(&c.SkipVerify, "clickhouse-skip-verify", c.SkipVerify, "do not verify ClickHouse's certificate (development only)")
	fs.DurationVar(&c.DialTimeout, "clickhouse-dial-timeout", c.DialTimeout, "ClickHouse connect timeout")
	fs.StringVar(&c.Cluster, "clickhouse-cluster", c.Cluster, "ClickHouse cluster NAME (remote_servers) for replicated tables under Distributed ones, created ON CLUSTER; empty for one server (README, Running in production)")
	if access == chWrite {
		fs.IntVar(&c.InsertQuorum, "clickhouse-insert-quorum", c.InsertQuorum, "with --clickhouse-cluster: replicas of a shard that must have a batch before it is acknowledged (insert_quorum; 0 = off)")
	}
	if access != chRead {
		fs.DurationVar(&c.ReadTimeout, "clickhouse-read-timeout", c.ReadTimeout, "longest wait for one ClickHouse answer (keep above the slowest batch insert)")
	} else {
		fs.DurationVar(&c.ReadTimeout, "clickhouse-read-timeout", c.ReadTimeout, "longest wait for one ClickHouse answer")
	}
}

// validate reports the first unusable setting, naming its flag.
func (c *chFlags) validate() error {
	for _, a := range strings.Split(c.Addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			if err := cli.CheckAddr("clickhouse-addr", a, "127.0.0.1:9000"); err != nil {
				return err
			}
		}
	}
	if err := c.checkFlags(); err != nil {
		return err
	}
	cfg := c.config()
	return cfg.Validate()
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
	s.Cluster, s.InsertQuorum = c.Cluster, c.InsertQuorum
	return s
}

// runConfig is the configuration of `aggregator run`.
type runConfig struct {
	Listen  string
	Log     cli.LogFlags
	Migrate bool

	NATS bus.ClientFlags
	CH   chFlags
	Agg  aggregator.Config
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
		Listen:    "127.0.0.1:8081",
		Log:       cli.DefaultLogFlags(),
		Migrate:   true,
		NATS:      bus.ClientFlags{Conn: nc, ConnectTimeout: time.Minute},
		CH:        defaultCHFlags(),
		Agg:       aggregator.DefaultConfig(),
		Alerts:    true,
		Alert:     alerts.DefaultConfig(),
		Dashboard: defaultDashboardFlags(""),
	}
}

// Validate reports the first inconsistent setting.
func (c *runConfig) Validate() error {
	if err := cli.CheckAddr("listen", c.Listen, "127.0.0.1:8081"); err != nil {
		return err
	}
	if err := c.NATS.Validate(); err != nil {
		return err
	}
	if err := c.CH.validate(); err != nil {
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

// runFlags returns the defaults of `aggregator run` and its flag set,
// which writes into them.
func runFlags() (*runConfig, *flag.FlagSet) {
	c := defaultRunConfig()
	fs := flag.NewFlagSet("aggregator run", flag.ContinueOnError)
	fs.StringVar(&c.Listen, "listen", c.Listen, "HTTP address of /metrics, /healthz and /readyz (port 0 picks a free one)")
	c.Log.Register(fs)
	fs.BoolVar(&c.Migrate, "migrate", c.Migrate, "apply the ClickHouse migrations at start")
	fs.StringVar(&c.Products, "products", c.Products, "product file (CSV or JSON: tenant,csp,target_id,name,version,publisher) stored in the product catalog at start, as aggregator catalog load does")

	c.NATS.Register(fs, "NATS server URL(s), comma-separated")
	c.CH.register(fs, chWrite)

	fs.StringVar(&c.Agg.Durable, "durable", c.Agg.Durable, "durable consumer name shared by every aggregator process")
	fs.IntVar(&c.Agg.BatchSize, "batch-size", c.Agg.BatchSize, "events per ClickHouse insert, at most")
	fs.DurationVar(&c.Agg.BatchWait, "batch-wait", c.Agg.BatchWait, "longest time a batch stays open")
	fs.DurationVar(&c.Agg.AckWait, "ack-wait", c.Agg.AckWait, "consumer ack wait (InProgress is sent every third of it while a batch is held)")
	fs.IntVar(&c.Agg.DeadLetterReplicas, "dlq-replicas", c.Agg.DeadLetterReplicas, "replicas of the dead-letter stream (3 in a NATS cluster)")
	fs.IntVar(&c.Agg.MaxDeliver, "max-deliver", c.Agg.MaxDeliver, "deliveries of one message before the server gives up on it and it is dead-lettered unless ClickHouse holds it; -1 is unbounded")
	fs.IntVar(&c.Agg.MaxAckPending, "max-ack-pending", c.Agg.MaxAckPending, "unacknowledged messages across all processes (at least 2 x batch size x processes)")
	fs.BoolVar(&c.Agg.CheckAll, "check-all", c.Agg.CheckAll, "check every chunk against ClickHouse and drop events already stored (storage is idempotent without it; this catches an event republished after the stream's duplicate window)")
	fs.DurationVar(&c.Agg.CheckAllLookback, "check-all-lookback", c.Agg.CheckAllLookback, "how far before a chunk's events --check-all looks for a first copy (the MDM server's retry horizon)")
	fs.DurationVar(&c.Agg.ReadyTimeout, "ready-timeout", c.Agg.ReadyTimeout, "longest a ClickHouse ping may take before /readyz answers 503")
	fs.DurationVar(&c.Agg.ShutdownTimeout, "shutdown-timeout", c.Agg.ShutdownTimeout, "how long the last batch may take to be stored at shutdown")

	fs.BoolVar(&c.Alerts, "alerts", c.Alerts, "detect failure-code spikes from ClickHouse and deliver alerts (set false to turn off)")
	c.Alert.RegisterFlags(fs)
	c.Dashboard.register(fs, "HTTP address of the web dashboard, e.g. 127.0.0.1:8082 (empty: off; aggregator dashboard serves it alone)")
	return &c, fs
}

// finish completes c once fs is parsed: the alert settings scale to a
// bucket given, and c is validated.
func (c *runConfig) finish(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true }) // flags and CSPWATCH_* alike
	c.Alert.ScaleToBucket(func(name string) bool { return given[name] })
	if err := checkRunFlags(fs, c); err != nil {
		return err
	}
	return c.Validate()
}

// parseRunConfig parses `aggregator run` alone: args, then CSPWATCH_*.
func parseRunConfig(args []string, getenv func(string) string, stderr io.Writer) (runConfig, error) {
	c, fs := runFlags()
	err := cli.ParseAlone(runSpec(fs), args, getenv, stderr, func() error { return c.finish(fs) })
	return *c, err
}

func runCommand(stdout, stderr io.Writer) *ffcli.Command {
	c, fs := runFlags()
	return cli.Leaf(runSpec(fs), func() error { return c.finish(fs) },
		func(ctx context.Context) error { return run(ctx, *c, stdout, stderr) })
}

// runSpec describes the command whose flags fs holds.
func runSpec(fs *flag.FlagSet) *ffcli.Command {
	return &ffcli.Command{
		Name:       "run",
		ShortUsage: "aggregator run [flags]",
		ShortHelp:  "consume install events from NATS into ClickHouse and detect failure-code spikes (the service)",
		LongHelp: `Consumes install events from NATS JetStream into ClickHouse, detects
failure-code spikes (--alerts=false: off) and, with --dashboard-addr,
serves the web dashboard. It serves /metrics, /healthz and /readyz on
--listen and prints that address to stdout once it listens.`,
		FlagSet: fs,
	}
}

// openStore opens ClickHouse, retrying with jittered exponential back-off
// (200 ms to 10 s) until it answers or ctx ends: at start ClickHouse may
// still be coming up. An error that retrying cannot cure returns at once.
func openStore(ctx context.Context, cfg store.Config, log zerolog.Logger) (*store.Store, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.Multiplier, b.MaxInterval = 200*time.Millisecond, 2, 10*time.Second
	return backoff.Retry(ctx, func() (*store.Store, error) {
		st, err := store.Open(ctx, cfg)
		if err != nil && !store.Retryable(err) {
			return nil, backoff.Permanent(err)
		}
		return st, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, d time.Duration) {
		log.Warn().Err(err).Dur("retry_in", d).Msg("clickhouse not reachable yet")
	}))
}

// run consumes until ctx ends, then flushes the open batch and stops. It
// prints the HTTP address to stdout once it listens.
func run(ctx context.Context, c runConfig, stdout, stderr io.Writer) error {
	log := c.Log.Logger("aggregator", stderr)
	// The product file is checked before anything starts: a bad file stops
	// the start with every error it holds.
	var products []store.AdminProduct
	if c.Products != "" {
		var err error
		if products, err = catalog.ReadFile(c.Products); err != nil {
			return cli.Usagef("aggregator run: --products: %v", err)
		}
	}

	reg := ops.NewRegistry()
	var agg *aggregator.Aggregator
	ready := make(chan struct{})
	mux := http.NewServeMux()
	ops.Routes(mux, reg, func(context.Context) error {
		select {
		case <-ready:
			if agg.Ready() {
				return nil
			}
			return errors.New("clickhouse or nats not reachable")
		default:
			return errors.New("starting")
		}
	})
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	stopHTTP := ops.Start(ops.NewServer(mux, 30*time.Second), ln, 5*time.Second, log)
	defer stopHTTP()
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
	nc.Conn.Log = log.With().Str("component", "nats-client").Logger()
	conn, err := nc.Connect(ctx)
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
	log.Info().Str("nats", nc.Conn.URL).Strs("clickhouse", c.CH.config().Addrs).Int("batch_size", c.Agg.BatchSize).
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
	sinks, err := alertsink.FromConfig(c.Alert, js, st, nil)
	if err != nil {
		return nil, err
	}
	eng, err := alerts.NewEngine(alerts.EngineOptions{
		Config: c.Alert, Source: alerts.ClickHouseSource{Store: st}, JetStream: js, Sinks: sinks,
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

func migrateCommand(stdout, _ io.Writer) *ffcli.Command {
	ch := defaultCHFlags()
	fs := flag.NewFlagSet("aggregator migrate", flag.ContinueOnError)
	ch.register(fs, chWrite)
	return &ffcli.Command{
		Name:       "migrate",
		ShortUsage: "aggregator migrate [flags]",
		ShortHelp:  "apply the ClickHouse migrations and exit",
		FlagSet:    fs,
		Exec: func(ctx context.Context, args []string) error {
			if err := cli.NoArgs(fs, args); err != nil {
				return err
			}
			if err := cli.Check(fs, ch.validate); err != nil {
				return err
			}
			return migrate(ctx, ch.config(), stdout)
		},
	}
}

// migrate applies the migrations and exits.
func migrate(ctx context.Context, cfg store.Config, stdout io.Writer) error {
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
