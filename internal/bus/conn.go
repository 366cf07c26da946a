package bus

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// ConnConfig says how a cspwatch process reaches NATS. At most one of
// CredsFile, NKeySeedFile and User is set.
type ConnConfig struct {
	// URL is one server URL or a comma-separated list of a cluster's.
	URL string
	// Name identifies the client in the server's monitoring.
	Name string
	// CredsFile is a decentralised-auth credentials file (JWT + nkey seed).
	CredsFile string
	// NKeySeedFile is a file holding a user nkey seed.
	NKeySeedFile string
	// User and Password are plain user credentials.
	User, Password string
	// TLSCA verifies the server's certificate; TLSCert and TLSKey are the
	// client's certificate for mutual TLS, given together.
	TLSCA, TLSCert, TLSKey string
	// ReconnectWait is the pause between reconnect attempts; attempts never
	// stop.
	ReconnectWait time.Duration
	// ReconnectBufSize bounds what the client buffers while disconnected; a
	// publish beyond it fails at once rather than growing memory.
	ReconnectBufSize int
	// Log receives connection state changes; the zero Logger drops them.
	Log zerolog.Logger
}

// DefaultConnConfig returns the defaults: the local embedded server, reconnect
// every second, an 8 MiB reconnect buffer.
func DefaultConnConfig() ConnConfig {
	return ConnConfig{
		URL:              "nats://127.0.0.1:4222",
		Name:             "cspwatch",
		ReconnectWait:    time.Second,
		ReconnectBufSize: 8 << 20,
	}
}

// ClientFlags are the NATS settings of a command that connects to NATS,
// with the same flags and CSPWATCH_* variables in every command.
type ClientFlags struct {
	Conn ConnConfig
	// ConnectTimeout bounds the wait for the first connection.
	ConnectTimeout time.Duration
}

// Register defines on fs --nats-url (described by urlUsage, as its
// default differs between commands), the credentials and TLS flags
// --nats-creds, --nats-nkey, --nats-user, --nats-password, --nats-ca,
// --nats-cert and --nats-key, and --nats-connect-timeout.
func (f *ClientFlags) Register(fs *flag.FlagSet, urlUsage string) {
	c := &f.Conn
	fs.StringVar(&c.URL, "nats-url", c.URL, urlUsage)
	fs.StringVar(&c.CredsFile, "nats-creds", c.CredsFile, "NATS credentials file (JWT + nkey)")
	fs.StringVar(&c.NKeySeedFile, "nats-nkey", c.NKeySeedFile, "NATS user nkey seed file")
	fs.StringVar(&c.User, "nats-user", c.User, "NATS user")
	fs.StringVar(&c.Password, "nats-password", c.Password, "NATS password (prefer the environment variable)")
	fs.StringVar(&c.TLSCA, "nats-ca", c.TLSCA, "CA file verifying the NATS server's certificate")
	fs.StringVar(&c.TLSCert, "nats-cert", c.TLSCert, "client certificate for NATS mutual TLS")
	fs.StringVar(&c.TLSKey, "nats-key", c.TLSKey, "client key for NATS mutual TLS")
	fs.DurationVar(&f.ConnectTimeout, "nats-connect-timeout", f.ConnectTimeout, "how long to wait for NATS at start")
}

// Validate reports the first inconsistent setting, naming its flag.
func (f *ClientFlags) Validate() error {
	if f.ConnectTimeout <= 0 {
		return fmt.Errorf("--nats-connect-timeout: want a positive duration, got %v", f.ConnectTimeout)
	}
	return f.Conn.Validate()
}

// Connect connects as Connect does, waiting at most ConnectTimeout.
func (f *ClientFlags) Connect(ctx context.Context) (*nats.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, f.ConnectTimeout)
	defer cancel()
	return Connect(ctx, f.Conn)
}

// ConnectJetStream connects as Connect does and returns the JetStream
// context too; the caller closes the connection.
func (f *ClientFlags) ConnectJetStream(ctx context.Context) (jetstream.JetStream, *nats.Conn, error) {
	nc, err := f.Connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return js, nc, nil
}

// Validate reports the first inconsistent setting.
func (c ConnConfig) Validate() error {
	n := 0
	for _, s := range []string{c.CredsFile, c.NKeySeedFile, c.User} {
		if s != "" {
			n++
		}
	}
	switch {
	case c.URL == "":
		return errors.New("nats: empty url: --nats-url wants a URL such as nats://127.0.0.1:4222")
	case n > 1:
		return errors.New("nats: set only one of --nats-creds, --nats-nkey and --nats-user")
	case c.Password != "" && c.User == "":
		return errors.New("nats: password without user (--nats-password needs --nats-user)")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("nats: --nats-cert and --nats-key go together")
	case c.ReconnectWait < 0:
		return fmt.Errorf("nats: negative reconnect wait %v", c.ReconnectWait)
	}
	return nil
}

// Options returns the nats.go options of c: credentials, TLS, reconnect
// forever, and handlers that log disconnects, reconnects and async errors.
func (c ConnConfig) Options() ([]nats.Option, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	log := c.Log
	opts := []nats.Option{
		nats.Name(c.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(c.ReconnectWait),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn().Err(err).Msg("nats disconnected")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("nats reconnected")
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			log.Info().Msg("nats connection closed")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			ev := log.Error().Err(err)
			if sub != nil {
				ev = ev.Str("subject", sub.Subject)
			}
			ev.Msg("nats async error")
		}),
	}
	if c.ReconnectBufSize != 0 {
		opts = append(opts, nats.ReconnectBufSize(c.ReconnectBufSize))
	}
	switch {
	case c.CredsFile != "":
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	case c.NKeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nats nkey: %w", err)
		}
		opts = append(opts, o)
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if c.TLSCert != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	return opts, nil
}

// Connect connects to NATS and waits for the first connection until ctx ends.
// Once connected, the connection reconnects forever by itself; callers watch
// (*nats.Conn).IsConnected for readiness. When ctx ends first, the
// connection is closed and the error names the last failure seen.
func Connect(ctx context.Context, cfg ConnConfig) (*nats.Conn, error) {
	opts, err := cfg.Options()
	if err != nil {
		return nil, err
	}
	var (
		mu   sync.Mutex
		last error
	)
	connected := make(chan struct{})
	var once sync.Once
	opts = append(opts,
		nats.ConnectHandler(func(*nats.Conn) { once.Do(func() { close(connected) }) }),
		// Wrap the error handler to remember why connecting fails.
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			mu.Lock()
			last = err
			mu.Unlock()
			cfg.Log.Warn().Err(err).Str("url", Redact(cfg.URL)).Msg("nats not reachable yet, retrying")
		}),
	)
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", Redact(cfg.URL), err)
	}
	if nc.IsConnected() {
		return nc, nil
	}
	select {
	case <-connected:
		return nc, nil
	case <-ctx.Done():
		nc.Close()
		mu.Lock()
		defer mu.Unlock()
		if last == nil {
			last = ctx.Err()
		}
		return nil, fmt.Errorf("nats connect %s: %w", Redact(cfg.URL), last)
	}
}

// Redact hides the passwords embedded in a URL list (nats://u:p@h,...)
// before it is logged or printed.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		at := strings.LastIndexByte(u, '@')
		if s := strings.Index(u, "://"); at >= 0 && s >= 0 && s < at {
			parts[i] = u[:s+3] + "***" + u[at:]
		}
	}
	return strings.Join(parts, ",")
}
