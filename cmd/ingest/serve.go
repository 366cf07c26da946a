package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/internal/ingest"
)

// serveConfig is the configuration of `ingest serve`. Every field has a flag;
// every flag has an environment override CSPWATCH_<FLAG> (upper case, '-'
// as '_'), e.g. --nats-url and CSPWATCH_NATS_URL. A flag on the command line
// wins over the environment, which wins over the default.
type serveConfig struct {
	Listen        string
	TLSCert       string
	TLSKey        string
	Credentials   string
	Insecure      bool
	ShutdownGrace time.Duration
	Log           cli.LogFlags

	// NATS: an external server when its URL is set, else an embedded one
	// (NATSListen, NATSData, NATSSyncAlways).
	NATS           bus.ClientFlags
	NATSListen     string
	NATSData       string
	NATSSyncAlways bool

	Stream bus.StreamConfig
	Ingest ingest.Config
}

func defaultServeConfig() serveConfig {
	emb := bus.DefaultEmbeddedConfig()
	nats := bus.DefaultConnConfig()
	nats.URL, nats.Name = "", "cspwatch-ingest" // empty: embedded
	return serveConfig{
		Listen:        ":8080",
		ShutdownGrace: 30 * time.Second,
		Log:           cli.DefaultLogFlags(),
		NATS:          bus.ClientFlags{Conn: nats, ConnectTimeout: 30 * time.Second},
		NATSListen:    net.JoinHostPort(emb.Host, strconv.Itoa(emb.Port)),
		NATSData:      emb.DataDir,
		Stream:        bus.DefaultStreamConfig(),
		Ingest:        ingest.DefaultConfig(),
	}
}

// Validate reports the first unusable setting.
func (c *serveConfig) Validate() error {
	if err := cli.CheckAddr("listen", c.Listen, ":8080"); err != nil {
		return err
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.Credentials == "" && !c.Insecure {
		return errors.New("no credentials: set --credentials FILE (CSPWATCH_CREDENTIALS), or --insecure for development only")
	}
	if c.Credentials != "" && c.Insecure {
		return errors.New("--credentials and --insecure exclude each other")
	}
	if c.ShutdownGrace <= 0 {
		return fmt.Errorf("--shutdown-grace: want a positive duration such as 30s, got %v", c.ShutdownGrace)
	}
	if c.NATS.Conn.URL == "" {
		if _, err := c.embedded(); err != nil {
			return err
		}
		if c.NATS.ConnectTimeout <= 0 {
			return fmt.Errorf("--nats-connect-timeout: want a positive duration such as 30s, got %v", c.NATS.ConnectTimeout)
		}
	} else if err := c.NATS.Validate(); err != nil {
		return err
	}
	if err := c.checkFlags(); err != nil {
		return err
	}
	if err := c.Stream.Validate(); err != nil {
		return err
	}
	return c.Ingest.Validate()
}

func (c *serveConfig) embedded() (bus.EmbeddedConfig, error) {
	e := bus.DefaultEmbeddedConfig()
	host, port, err := net.SplitHostPort(c.NATSListen)
	if err != nil {
		return e, fmt.Errorf("--nats-listen: want an address host:port such as 127.0.0.1:4222, got %q", c.NATSListen)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < -1 || p > 65535 {
		return e, fmt.Errorf("--nats-listen: want a port from 0 to 65535, got %q", port)
	}
	if p == 0 {
		p = -1 // nats-server reads 0 as its default port; 0 means any free port here
	}
	e.Host, e.Port, e.DataDir, e.SyncAlways = host, p, c.NATSData, c.NATSSyncAlways
	return e, e.Validate()
}

// serveFlags returns the defaults of `ingest serve` and its flag set,
// which writes into them.
func serveFlags() (*serveConfig, *flag.FlagSet) {
	c := defaultServeConfig()
	fs := flag.NewFlagSet("ingest serve", flag.ContinueOnError)
	fs.StringVar(&c.Listen, "listen", c.Listen, "HTTP listen address (host:port; port 0 picks a free one)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "TLS certificate file (PEM); with --tls-key, serve HTTPS")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "TLS private key file (PEM)")
	fs.StringVar(&c.Credentials, "credentials", c.Credentials, "tenant credentials file (JSON: tenants with HMAC secrets and/or bearer tokens)")
	fs.BoolVar(&c.Insecure, "insecure", c.Insecure, "accept unauthenticated requests as tenant \"default\" (development only)")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", c.ShutdownGrace, "how long requests in flight may take to finish at shutdown")
	c.Log.Register(fs)
	fs.BoolVar(&c.Ingest.AccessLog, "access-log", c.Ingest.AccessLog, "log every accepted request at info level (otherwise debug)")

	c.NATS.Register(fs, "external NATS server URL(s), comma-separated; empty embeds a nats-server")
	fs.StringVar(&c.NATSListen, "nats-listen", c.NATSListen, "embedded nats-server listen address, for the aggregator (port 0 picks a free one)")
	fs.StringVar(&c.NATSData, "nats-data", c.NATSData, "embedded nats-server JetStream data directory")
	fs.BoolVar(&c.NATSSyncAlways, "nats-sync-always", c.NATSSyncAlways, "embedded nats-server fsyncs every write before acknowledging (durable against power loss, slower)")

	fs.IntVar(&c.Stream.Replicas, "stream-replicas", c.Stream.Replicas, "replicas of the install stream (3 in a NATS cluster)")
	fs.DurationVar(&c.Stream.MaxAge, "stream-max-age", c.Stream.MaxAge, "how long the install stream keeps events")
	fs.Int64Var(&c.Stream.MaxBytes, "stream-max-bytes", c.Stream.MaxBytes, "size bound of the install stream in bytes (-1 unlimited)")
	fs.DurationVar(&c.Stream.Duplicates, "stream-duplicates", c.Stream.Duplicates, "duplicate window: longer than the MDM server's retry horizon")
	cli.EnumVar(fs, &c.Stream.Persist, "stream-persist", "stream persist mode: default (ack after store) or async", bus.PersistDefault, bus.PersistAsync)

	fs.Int64Var(&c.Ingest.MaxBodyBytes, "max-body", c.Ingest.MaxBodyBytes, "largest request body in bytes, as sent")
	fs.Int64Var(&c.Ingest.MaxDecompressedBytes, "max-decompressed", c.Ingest.MaxDecompressedBytes, "largest gzip body once decompressed, in bytes")
	fs.DurationVar(&c.Ingest.Tolerance, "signature-tolerance", c.Ingest.Tolerance, "how far webhook-timestamp may be from now")
	fs.DurationVar(&c.Ingest.PublishTimeout, "publish-timeout", c.Ingest.PublishTimeout, "longest wait for JetStream to acknowledge a message's events; then 503")
	fs.IntVar(&c.Ingest.MaxPending, "max-pending", c.Ingest.MaxPending, "events published and not yet acknowledged, across all requests")
	fs.DurationVar(&c.Ingest.RetryAfter, "retry-after", c.Ingest.RetryAfter, "Retry-After of a 503")
	return &c, fs
}

// finish completes c once its flags are parsed and validates it.
func (c *serveConfig) finish() error {
	c.Ingest.Insecure = c.Insecure
	return c.Validate()
}

// parseServeConfig parses `ingest serve` alone: args, then CSPWATCH_*.
func parseServeConfig(args []string, getenv func(string) string, stderr io.Writer) (serveConfig, error) {
	c, fs := serveFlags()
	err := cli.ParseAlone(serveSpec(fs), args, getenv, stderr, c.finish)
	return *c, err
}

func serveCommand(stdout, stderr io.Writer) *ffcli.Command {
	c, fs := serveFlags()
	return cli.Leaf(serveSpec(fs), c.finish, func(ctx context.Context) error { return serve(ctx, *c, stdout, stderr) })
}

// serve runs the webhook service until ctx ends, then shuts down gracefully:
// it stops accepting, lets requests in flight finish, drains the NATS
// connection and stops the embedded nats-server. It prints the addresses it
// listens on to stdout once it is ready.
func serve(ctx context.Context, c serveConfig, stdout, stderr io.Writer) error {
	log := c.Log.Logger("ingest", stderr)

	var (
		creds *ingest.Credentials
		err   error
	)
	if c.Credentials != "" {
		if creds, err = ingest.LoadCredentials(c.Credentials); err != nil {
			return err
		}
		log.Info().Int("tenants", creds.Tenants()).Str("file", c.Credentials).Msg("credentials loaded")
	} else {
		for i := 0; i < 3; i++ {
			log.Warn().Str("tenant", ingest.InsecureTenant).
				Msg("INSECURE MODE: webhooks are accepted WITHOUT authentication; never run this in production")
		}
	}

	var tlsCfg *tls.Config
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	nf := c.NATS
	nf.Conn.Log = log.With().Str("component", "nats-client").Logger()
	var emb *bus.Embedded
	if nf.Conn.URL == "" {
		ec, _ := c.embedded()
		if err := os.MkdirAll(ec.DataDir, 0o750); err != nil {
			return fmt.Errorf("nats data dir: %w", err)
		}
		ec.Log = log.With().Str("component", "nats-server").Logger().Level(zerolog.WarnLevel)
		if emb, err = bus.StartEmbedded(ec); err != nil {
			return err
		}
		defer emb.Shutdown()
		nf.Conn.URL = emb.ClientURL()
		log.Info().Str("url", nf.Conn.URL).Str("data", ec.DataDir).Bool("sync_always", ec.SyncAlways).Msg("embedded nats-server started")
	}
	nc, err := nf.Connect(ctx)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = bus.EnsureStream(sctx, js, c.Stream)
	cancel()
	if err != nil {
		return err
	}

	srv, err := ingest.New(c.Ingest, creds, nc, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	log.Info().Str("addr", ln.Addr().String()).Bool("tls", tlsCfg != nil).Str("nats", nf.Conn.URL).Msg("ingest listening")
	fmt.Fprintf(stdout, "ingest listening on %s://%s nats %s\n", scheme, ln.Addr(), bus.Redact(nf.Conn.URL))

	serveErr := srv.Serve(ctx, ln, tlsCfg, c.ShutdownGrace)
	log.Info().Msg("http server stopped; draining nats")
	if err := drain(nc, 10*time.Second); err != nil {
		log.Error().Err(err).Msg("nats drain")
		if serveErr == nil {
			serveErr = err
		}
	}
	return serveErr
}

// drain flushes what the connection still holds and closes it, waiting at
// most d.
func drain(nc *nats.Conn, d time.Duration) error {
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return nil
		}
		return fmt.Errorf("nats drain: %w", err)
	}
	select {
	case <-closed:
		return nil
	case <-time.After(d):
		return errors.New("nats drain: not closed after " + d.String())
	}
}

// serveSpec describes the command whose flags fs holds.
func serveSpec(fs *flag.FlagSet) *ffcli.Command {
	return &ffcli.Command{
		Name:       "serve",
		ShortUsage: "ingest serve [flags]",
		ShortHelp:  "receive signed SyncML webhooks and publish install events (the service)",
		LongHelp: `Receives SyncML messages as signed webhooks on POST /v1/syncml (a device's)
and /v1/syncml/commands (the MDM server's to a device), and publishes their
install events to NATS JetStream: an external server with --nats-url, else
an embedded nats-server. It serves /metrics, /healthz and /readyz on the
same address and prints where it listens to stdout once it is ready.`,
		FlagSet: fs,
	}
}
