package store_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/store"
)

// A configuration error is permanent: retrying a missing CA file, a file
// without a certificate or a certificate that does not verify cures
// nothing, so the aggregator stops at once instead of waiting for ever.
func TestRetryableConfigErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := func(mod func(*store.Config)) error {
		cfg := store.DefaultConfig()
		cfg.Addrs = []string{"127.0.0.1:1"}
		cfg.TLS = true
		cfg.DialTimeout = time.Second
		mod(&cfg)
		st, err := store.Open(context.Background(), cfg)
		if err == nil {
			st.Close()
			t.Fatal("Open succeeded")
		}
		return err
	}
	tests := []struct {
		name string
		err  error
	}{
		{"missing ca", open(func(c *store.Config) { c.TLSCA = filepath.Join(dir, "nonexistent") })},
		{"ca without certificate", open(func(c *store.Config) { c.TLSCA = empty })},
		{"missing client cert", open(func(c *store.Config) { c.TLSCert, c.TLSKey = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem") })},
		{"unknown authority", fmt.Errorf("clickhouse ping: %w", x509.UnknownAuthorityError{})},
		{"hostname", fmt.Errorf("clickhouse ping: %w", x509.HostnameError{Host: "ch"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if store.Retryable(tt.err) {
				t.Fatalf("Retryable(%v) = true, want false", tt.err)
			}
		})
	}
}
