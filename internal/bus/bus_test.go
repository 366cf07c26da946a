package bus_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/testkit"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
)

func TestStreamConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*bus.StreamConfig)
		want   string // substring of the error, "" for valid
	}{
		{"defaults", func(*bus.StreamConfig) {}, ""},
		{"async persist", func(c *bus.StreamConfig) { c.Persist = bus.PersistAsync }, ""},
		{"no name", func(c *bus.StreamConfig) { c.Name = "" }, "empty name"},
		{"no subjects", func(c *bus.StreamConfig) { c.Subjects = nil }, "no subjects"},
		{"zero replicas", func(c *bus.StreamConfig) { c.Replicas = 0 }, "replicas"},
		{"six replicas", func(c *bus.StreamConfig) { c.Replicas = 6 }, "replicas"},
		{"negative age", func(c *bus.StreamConfig) { c.MaxAge = -time.Second }, "max age"},
		{"zero bytes", func(c *bus.StreamConfig) { c.MaxBytes = 0 }, "max bytes"},
		{"no window", func(c *bus.StreamConfig) { c.Duplicates = 0 }, "duplicate window"},
		{"window over age", func(c *bus.StreamConfig) { c.MaxAge = time.Minute }, "longer than max age"},
		{"bad persist", func(c *bus.StreamConfig) { c.Persist = "sometimes" }, "persist mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := bus.DefaultStreamConfig()
			tt.change(&c)
			checkValidate(t, c.Validate(), tt.want)
		})
	}
	for _, c := range []bus.StreamConfig{bus.DeadLetterStreamConfig(), bus.AlertStreamConfig()} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s defaults: %v", c.Name, err)
		}
	}
}

func TestConnConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*bus.ConnConfig)
		want   string
	}{
		{"defaults", func(*bus.ConnConfig) {}, ""},
		{"user", func(c *bus.ConnConfig) { c.User, c.Password = "u", "p" }, ""},
		{"no url", func(c *bus.ConnConfig) { c.URL = "" }, "empty url"},
		{"two auths", func(c *bus.ConnConfig) { c.User, c.CredsFile = "u", "x.creds" }, "only one"},
		{"password alone", func(c *bus.ConnConfig) { c.Password = "p" }, "password without user"},
		{"cert without key", func(c *bus.ConnConfig) { c.TLSCert = "c.pem" }, "go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := bus.DefaultConnConfig()
			tt.change(&c)
			checkValidate(t, c.Validate(), tt.want)
		})
	}
}

// checkValidate fails t unless err, what Validate returned, is nil when
// want is "" and otherwise holds want.
func checkValidate(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Validate = %v, want error containing %q", err, want)
	}
}

func TestEnsureStreamCreatesThenUpdates(t *testing.T) {
	srv := natstest.Start(t)
	js := srv.JetStream()
	ctx := context.Background()

	cfg := bus.DefaultStreamConfig()
	s, err := bus.EnsureStream(ctx, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Storage != jetstream.FileStorage || info.Config.Duplicates != time.Hour || info.Config.MaxAge != cfg.MaxAge {
		t.Fatalf("created %+v", info.Config)
	}

	cfg.Duplicates = 2 * time.Hour
	cfg.MaxAge = 7 * 24 * time.Hour
	if _, err := bus.EnsureStream(ctx, js, cfg); err != nil {
		t.Fatalf("update: %v", err)
	}
	info, err = s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Duplicates != 2*time.Hour || info.Config.MaxAge != cfg.MaxAge {
		t.Fatalf("after update: duplicates %v, max age %v", info.Config.Duplicates, info.Config.MaxAge)
	}

	bad := cfg
	bad.Replicas = 0
	if _, err := bus.EnsureStream(ctx, js, bad); err == nil {
		t.Fatal("EnsureStream accepted zero replicas")
	}
}

// The duplicate window is what makes a retried webhook harmless: the same
// Nats-Msg-Id is stored once, and the second ack says Duplicate.
func TestDuplicateWindowDropsRepublish(t *testing.T) {
	srv := natstest.Start(t)
	st := srv.InstallStream()
	js := srv.JetStream()
	ctx := context.Background()
	subj := event.SubjectPrefix + "t1.msi.failed"
	a1, err := js.Publish(ctx, subj, []byte(`{}`), jetstream.WithMsgID("e1"))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := js.Publish(ctx, subj, []byte(`{}`), jetstream.WithMsgID("e1"))
	if err != nil {
		t.Fatal(err)
	}
	if a1.Duplicate || !a2.Duplicate || a1.Sequence != a2.Sequence {
		t.Fatalf("acks %+v %+v, want the second a duplicate of the first", a1, a2)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
}

// A restarted server comes back on the same URL with its messages, and a
// connected client reconnects by itself.
func TestRestartKeepsDataAndClientReconnects(t *testing.T) {
	srv := natstest.Start(t)
	srv.InstallStream()
	nc := srv.Conn()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.Publish(ctx, event.SubjectPrefix+"t.office.succeeded", []byte("x"), jetstream.WithMsgID("a")); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	testkit.WaitFor(t, 10*time.Second, "the client to see the server gone", func() bool { return !nc.IsConnected() })
	srv.Restart()
	testkit.WaitFor(t, 10*time.Second, "the client to reconnect", nc.IsConnected)
	st, err := js.Stream(ctx, bus.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("after restart %d messages, want 1", info.State.Msgs)
	}
	// The duplicate window survives the restart too.
	ack, err := js.Publish(ctx, event.SubjectPrefix+"t.office.succeeded", []byte("x"), jetstream.WithMsgID("a"))
	if err != nil {
		t.Fatal(err)
	}
	if !ack.Duplicate {
		t.Fatal("republish after restart was not a duplicate")
	}
}

func TestConnectGivesUpWhenContextEnds(t *testing.T) {
	cfg := bus.DefaultConnConfig()
	cfg.URL = "nats://127.0.0.1:1" // nothing listens on port 1
	cfg.ReconnectWait = 20 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	nc, err := bus.Connect(ctx, cfg)
	if err == nil {
		nc.Close()
		t.Fatal("Connect succeeded with no server")
	}
}

func TestConnectReportsMissingNKeySeed(t *testing.T) {
	cfg := bus.DefaultConnConfig()
	cfg.NKeySeedFile = filepath.Join(t.TempDir(), "missing.nk")
	_, err := bus.Connect(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "nkey") {
		t.Fatalf("Connect = %v, want an nkey error", err)
	}
}

func TestStartEmbeddedRejectsBadConfig(t *testing.T) {
	cfg := bus.DefaultEmbeddedConfig()
	cfg.DataDir = ""
	if _, err := bus.StartEmbedded(cfg); err == nil {
		t.Fatal("started without a data dir")
	}
}
