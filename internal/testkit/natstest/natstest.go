// Package natstest runs an embedded JetStream nats-server for the tests of
// other packages: in process, on a free loopback port, storing in
// t.TempDir(), shut down when the test ends.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/bus"
)

// Server is a test's embedded nats-server. Stop and Restart let a test take
// NATS away and bring it back on the same port with the same data.
type Server struct {
	t   testing.TB
	cfg bus.EmbeddedConfig
	emb *bus.Embedded
	// URL is the nats:// URL of the server; it stays the same across Restart.
	URL string
}

// Start starts a server with JetStream on a free port and registers its
// shutdown with t.Cleanup. It fails the test if the server does not start.
func Start(t testing.TB) *Server {
	t.Helper()
	cfg := bus.DefaultEmbeddedConfig()
	cfg.Port = -1
	cfg.DataDir = t.TempDir()
	cfg.ServerName = "bustest"
	emb, err := bus.StartEmbedded(cfg)
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	cfg.Port = emb.Port() // a Restart comes back on the same port
	s := &Server{t: t, cfg: cfg, emb: emb, URL: emb.ClientURL()}
	t.Cleanup(s.Stop)
	return s
}

// Embedded returns the running server, or nil while stopped.
func (s *Server) Embedded() *bus.Embedded { return s.emb }

// Stop shuts the server down; clients see a disconnect. Stopping a stopped
// server does nothing.
func (s *Server) Stop() {
	if s.emb != nil {
		s.emb.Shutdown()
		s.emb = nil
	}
}

// Restart starts the server again on the same port and data directory, so
// that streams and their messages (and the duplicate windows) come back.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	// The old listener's port can take a moment to be free again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.emb, err = bus.StartEmbedded(s.cfg)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("bustest restart: %v", err)
	}
}

// Conn connects a client to the server, closed when the test ends.
func (s *Server) Conn() *nats.Conn {
	s.t.Helper()
	cfg := bus.DefaultConnConfig()
	cfg.URL = s.URL
	cfg.Name = "bustest"
	cfg.ReconnectWait = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, cfg)
	if err != nil {
		s.t.Fatalf("bustest connect: %v", err)
	}
	s.t.Cleanup(nc.Close)
	return nc
}

// JetStream connects a client and returns its JetStream context.
func (s *Server) JetStream() jetstream.JetStream {
	s.t.Helper()
	js, err := jetstream.New(s.Conn())
	if err != nil {
		s.t.Fatalf("bustest jetstream: %v", err)
	}
	return js
}

// InstallStream creates the install stream with its default configuration
// and returns it.
func (s *Server) InstallStream() jetstream.Stream {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := bus.EnsureStream(ctx, s.JetStream(), bus.DefaultStreamConfig())
	if err != nil {
		s.t.Fatalf("bustest: %v", err)
	}
	return st
}
