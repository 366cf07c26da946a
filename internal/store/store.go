// Package store writes install events to ClickHouse and applies the schema
// migrations embedded from schema/.
//
// It speaks the native protocol only (clickhouse-go's HTTP protocol does not
// work with ClickHouse 18.16) and names the columns of every INSERT.
package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Config says how to reach ClickHouse.
type Config struct {
	// Addrs are host:port of native-protocol endpoints (port 9000, or 9440
	// with TLS); several are tried in order.
	Addrs    []string
	Database string
	User     string
	Password string
	// TLS turns on TLS; TLSCA verifies the server, TLSCert and TLSKey are a
	// client certificate, TLSSkipVerify disables verification (development
	// only).
	TLS                    bool
	TLSCA, TLSCert, TLSKey string
	TLSSkipVerify          bool
	DialTimeout            time.Duration
	// ReadTimeout bounds one server answer; a large INSERT is answered when
	// the whole batch is written, so keep it well above the slowest insert.
	ReadTimeout  time.Duration
	MaxOpenConns int
	// CreateDatabase issues CREATE DATABASE IF NOT EXISTS before Migrate
	// (ON CLUSTER in cluster mode).
	CreateDatabase bool
	// Cluster is the name of the ClickHouse cluster (remote_servers) the
	// schema lives on; "" for one server. See cluster.go: replicated tables
	// under Distributed ones, inserts with insert_distributed_sync = 1.
	Cluster string
	// InsertQuorum, in cluster mode, is insert_quorum: an INSERT returns
	// only once that many replicas of the shard have the rows (and fails
	// after InsertQuorumTimeout while fewer are up); 0 leaves it off.
	InsertQuorum int
}

// DefaultConfig is a local server's default user and database.
func DefaultConfig() Config {
	return Config{
		Addrs:          []string{"127.0.0.1:9000"},
		Database:       "cspwatch",
		User:           "default",
		DialTimeout:    5 * time.Second,
		ReadTimeout:    2 * time.Minute,
		MaxOpenConns:   4,
		CreateDatabase: true,
	}
}

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	switch {
	case len(c.Addrs) == 0 || c.Addrs[0] == "":
		return errors.New("clickhouse: no address")
	case c.Database == "" || strings.ContainsAny(c.Database, "`.; \t\n"):
		return fmt.Errorf("clickhouse: bad database name %q", c.Database)
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("clickhouse: tls cert and key go together")
	case !c.TLS && (c.TLSCA != "" || c.TLSCert != "" || c.TLSSkipVerify):
		return errors.New("clickhouse: tls settings given but tls is off")
	case c.DialTimeout <= 0 || c.ReadTimeout <= 0:
		return errors.New("clickhouse: timeouts must be positive")
	case c.MaxOpenConns < 1:
		return errors.New("clickhouse: max open conns must be at least 1")
	case c.Cluster != "" && !identRE.MatchString(c.Cluster):
		return fmt.Errorf("clickhouse: bad cluster name %q", c.Cluster)
	case c.InsertQuorum < 0:
		return errors.New("clickhouse: insert quorum must not be negative")
	case c.InsertQuorum > 0 && c.Cluster == "":
		return errors.New("clickhouse: insert quorum needs a cluster")
	}
	return nil
}

func (c Config) options(database string) (*clickhouse.Options, error) {
	o := &clickhouse.Options{
		Addr:         c.Addrs,
		Protocol:     clickhouse.Native,
		Auth:         clickhouse.Auth{Database: database, Username: c.User, Password: c.Password},
		DialTimeout:  c.DialTimeout,
		ReadTimeout:  c.ReadTimeout,
		MaxOpenConns: c.MaxOpenConns,
		MaxIdleConns: c.MaxOpenConns,
		Compression:  &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
	}
	if c.TLS {
		t := &tls.Config{InsecureSkipVerify: c.TLSSkipVerify} //nolint:gosec // opt-in, documented as development only
		if c.TLSCA != "" {
			pem, err := os.ReadFile(c.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("clickhouse tls ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("clickhouse tls ca: no certificate in %s", c.TLSCA)
			}
			t.RootCAs = pool
		}
		if c.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("clickhouse tls cert: %w", err)
			}
			t.Certificates = []tls.Certificate{cert}
		}
		o.TLS = t
	}
	return o, nil
}

// Store is a connection pool to one ClickHouse database. It is safe for
// concurrent use.
type Store struct {
	cfg  Config
	conn driver.Conn
}

// Open connects and checks the server answers. With CreateDatabase it
// first creates the database. An error from an unreachable server is
// retryable (see Retryable).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.CreateDatabase {
		o, err := cfg.options("default")
		if err != nil {
			return nil, err
		}
		c, err := clickhouse.Open(o)
		if err != nil {
			return nil, fmt.Errorf("clickhouse open: %w", err)
		}
		q := "CREATE DATABASE IF NOT EXISTS `" + cfg.Database + "`"
		if cfg.Cluster != "" {
			q += " ON CLUSTER " + cfg.Cluster
		}
		err = c.Exec(ctx, q)
		c.Close()
		if err != nil {
			return nil, fmt.Errorf("clickhouse create database: %w", err)
		}
	}
	st, err := connect(ctx, cfg, cfg.clusterSettings())
	if err != nil {
		return nil, err
	}
	if err := st.checkCluster(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// connect opens a connection to cfg.Database with the session settings
// given (none when nil) and checks that the server answers.
func connect(ctx context.Context, cfg Config, settings clickhouse.Settings) (*Store, error) {
	o, err := cfg.options(cfg.Database)
	if err != nil {
		return nil, err
	}
	o.Settings = settings
	conn, err := clickhouse.Open(o)
	if err != nil {
		return nil, fmt.Errorf("clickhouse open: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse ping: %w", err)
	}
	return &Store{cfg: cfg, conn: conn}, nil
}

// ReadOnlySetting is the ClickHouse readonly level OpenReadOnly asks for:
// 2 forbids every write and DDL but lets a query set its own settings,
// which clickhouse-go needs (it sends max_execution_time with a context
// deadline); level 1 would refuse those.
const ReadOnlySetting = 2

// OpenReadOnly opens the store for reading only: it never creates the
// database (cfg.CreateDatabase is ignored) and every query runs with the
// session setting readonly = ReadOnlySetting, so the server refuses any
// INSERT, ALTER, CREATE or DROP whatever the user may do. A user whose
// profile is already read-only (readonly 1 or 2, the documented set-up)
// is used as it is, since such a user may not change the setting.
//
// Cost: Open plus one query of system.settings.
func OpenReadOnly(ctx context.Context, cfg Config) (*Store, error) {
	cfg.CreateDatabase = false
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := connect(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	if err := st.checkCluster(ctx); err != nil {
		st.Close()
		return nil, err
	}
	var level string
	err = st.conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'readonly'").Scan(&level)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("clickhouse readonly setting: %w", err)
	}
	if level != "0" {
		return st, nil
	}
	st.Close()
	return connect(ctx, cfg, clickhouse.Settings{"readonly": ReadOnlySetting})
}

// Conn returns the underlying connection, for queries.
func (s *Store) Conn() driver.Conn { return s.conn }

// Close closes the pool.
func (s *Store) Close() error { return s.conn.Close() }

// Ping checks the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("clickhouse ping: %w", err)
	}
	return nil
}

// ServerVersion returns the server's major and minor version.
func (s *Store) ServerVersion() (major, minor int, err error) {
	v, err := s.conn.ServerVersion()
	if err != nil {
		return 0, 0, fmt.Errorf("clickhouse server version: %w", err)
	}
	return int(v.Version.Major), int(v.Version.Minor), nil
}

// Retryable reports whether err may go away by itself: the server or the
// network is unreachable, slow or overloaded. Other server exceptions
// (unknown table or column, type mismatch, syntax, authentication) need a
// person or a deployment to fix; retrying them is still safe but useless, so
// callers report them loudly.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if configError(err) || errors.Is(err, ErrSetup) {
		return false
	}
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		// Dial failures, resets, time-outs, io.EOF: the connection, not the data.
		return !errors.Is(err, context.Canceled)
	}
	switch ex.Code {
	case 3, // UNEXPECTED_END_OF_FILE
		32,  // ATTEMPT_TO_READ_AFTER_EOF (cluster mode: a shard's replica died during a Distributed INSERT)
		279, // ALL_CONNECTION_TRIES_FAILED (cluster mode: no replica of a shard reachable)
		159, // TIMEOUT_EXCEEDED
		160, // TOO_SLOW
		164, // READONLY (a replica switching)
		202, // TOO_MANY_SIMULTANEOUS_QUERIES
		209, // SOCKET_TIMEOUT
		210, // NETWORK_ERROR
		241, // MEMORY_LIMIT_EXCEEDED
		242, // TABLE_IS_READ_ONLY
		252, // TOO_MANY_PARTS
		285, // TOO_FEW_LIVE_REPLICAS
		286, // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE (insert_quorum: another writer's quorum insert pending)
		319, // UNKNOWN_STATUS_OF_INSERT
		425, // SYSTEM_ERROR
		999: // KEEPER_EXCEPTION
		return true
	}
	return false
}

// configError reports whether err comes from the configuration rather
// than from the network: a file that cannot be read (TLS CA, certificate,
// key), a certificate ClickHouse's does not verify against, or a TLS
// setting that cannot work. Retrying cannot cure it.
func configError(err error) bool {
	var (
		pathErr   *fs.PathError
		unknownCA x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostname  x509.HostnameError
		verify    *tls.CertificateVerificationError
		header    tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &pathErr), errors.As(err, &unknownCA), errors.As(err, &invalid),
		errors.As(err, &hostname), errors.As(err, &verify), errors.As(err, &header):
		return true
	}
	// The TLS settings are read before any dial: "clickhouse tls ca: no
	// certificate in ...", "clickhouse tls cert: tls: failed to find any
	// PEM data".
	return strings.Contains(err.Error(), "clickhouse tls ")
}
