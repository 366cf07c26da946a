package bus

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// EmbeddedConfig configures the nats-server that a single-node run embeds.
type EmbeddedConfig struct {
	// Host and Port are where clients (the aggregator) connect. Port -1
	// picks a free port, for tests.
	Host string
	Port int
	// DataDir holds JetStream's files; it survives restarts.
	DataDir string
	// SyncAlways makes the server fsync every write before acknowledging it,
	// so that an acknowledged event survives a power loss, at a large cost in
	// publish rate. Otherwise the server fsyncs every SyncInterval.
	SyncAlways   bool
	SyncInterval time.Duration
	// MaxStore bounds JetStream's disk use in bytes; 0 lets the server choose
	// (most of the free disk).
	MaxStore int64
	// ServerName names the server in logs and advisories; the nodes of a
	// cluster need distinct names.
	ServerName string
	// ClusterName, when set, makes the server a node of a JetStream cluster
	// of that name: it listens for routes on ClusterHost:ClusterPort
	// (ClusterHost defaults to Host) and connects to Routes, the
	// nats://host:port cluster URLs of the nodes (its own may be listed too;
	// the server skips it). Every node of a cluster has the same ClusterName
	// and Routes and its own ServerName and DataDir.
	ClusterName string
	ClusterHost string
	ClusterPort int
	Routes      []string
	// Log receives the server's log lines; the zero Logger drops them.
	Log zerolog.Logger
}

// DefaultEmbeddedConfig returns the single-node defaults: loopback port 4222,
// data in ./data/nats, fsync every two minutes (the nats-server default).
func DefaultEmbeddedConfig() EmbeddedConfig {
	return EmbeddedConfig{
		Host:         "127.0.0.1",
		Port:         4222,
		DataDir:      "data/nats",
		SyncInterval: 2 * time.Minute,
		ServerName:   "cspwatch",
	}
}

// Validate reports the first unusable setting.
func (c EmbeddedConfig) Validate() error {
	switch {
	case c.DataDir == "":
		return errors.New("embedded nats: empty data dir")
	case c.Port < -1 || c.Port > 65535:
		return fmt.Errorf("embedded nats: port %d out of range", c.Port)
	case c.SyncInterval < 0:
		return fmt.Errorf("embedded nats: negative sync interval %v", c.SyncInterval)
	case c.MaxStore < 0:
		return fmt.Errorf("embedded nats: negative max store %d", c.MaxStore)
	case c.ClusterName == "" && (c.ClusterPort != 0 || len(c.Routes) > 0):
		return errors.New("embedded nats: cluster port or routes without a cluster name")
	case c.ClusterName != "" && c.ServerName == "":
		return errors.New("embedded nats: a cluster node needs a server name")
	case c.ClusterName != "" && (c.ClusterPort < -1 || c.ClusterPort == 0 || c.ClusterPort > 65535):
		return fmt.Errorf("embedded nats: cluster port %d out of range", c.ClusterPort)
	}
	return nil
}

// Embedded is a running in-process nats-server with JetStream.
type Embedded struct {
	srv *server.Server
	cfg EmbeddedConfig
}

// StartEmbedded starts a nats-server with JetStream storing in cfg.DataDir and
// waits until it accepts connections (at most 10 s).
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName:             cfg.ServerName,
		Host:                   cfg.Host,
		Port:                   cfg.Port,
		JetStream:              true,
		StoreDir:               cfg.DataDir,
		JetStreamMaxStore:      cfg.MaxStore,
		SyncAlways:             cfg.SyncAlways,
		SyncInterval:           cfg.SyncInterval,
		NoSigs:                 true,
		DisableJetStreamBanner: true,
		// The server's own accounting of max payload etc. stays at defaults.
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if cfg.ClusterName != "" {
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: cfg.ClusterHost, Port: cfg.ClusterPort}
		if opts.Cluster.Host == "" {
			opts.Cluster.Host = opts.Host
		}
		opts.Routes = server.RoutesFromStr(strings.Join(cfg.Routes, ","))
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	slog := newServerLog(cfg.Log)
	srv.SetLoggerV2(slog, false, false, false)
	go srv.Start()
	if err := slog.waitReady(srv, 10*time.Second); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("embedded nats: jetstream did not start")
	}
	return &Embedded{srv: srv, cfg: cfg}, nil
}

// ClientURL is the nats:// URL clients connect to.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Port is the port the server listens on (the chosen one when Port was -1).
func (e *Embedded) Port() int {
	if a, ok := e.srv.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	_, p, _ := net.SplitHostPort(e.srv.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

// Config returns the configuration the server was started with.
func (e *Embedded) Config() EmbeddedConfig { return e.cfg }

// Server exposes the nats-server, for tests and health checks.
func (e *Embedded) Server() *server.Server { return e.srv }

// Shutdown stops the server and waits until it has closed its files; clients
// see a disconnect. It is safe to call more than once.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
