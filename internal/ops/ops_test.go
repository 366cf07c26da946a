package ops

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestRoutesAndShutdown(t *testing.T) {
	var ready atomic.Bool
	mux := http.NewServeMux()
	Routes(mux, NewRegistry(), func(context.Context) error {
		if ready.Load() {
			return nil
		}
		return errors.New("nats down")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, NewServer(mux, 5*time.Second), ln, nil, 5*time.Second) }()
	base := "http://" + ln.Addr().String()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		path string
		code int
		body string
	}{
		{"/healthz", 200, "ok\n"},
		{"/readyz", 503, "not ready: nats down\n"},
		{"/metrics", 200, "go_goroutines"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if code, body := get(tt.path); code != tt.code || !strings.Contains(body, tt.body) {
				t.Fatalf("GET %s = %d %q, want %d %q", tt.path, code, body, tt.code, tt.body)
			}
		})
	}
	ready.Store(true)
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("ready: %d %q", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v after shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

func TestStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := Start(NewServer(http.NotFoundHandler(), time.Second), ln, time.Second, zerolog.Nop())
	if resp, err := http.Get("http://" + ln.Addr().String()); err != nil || resp.StatusCode != 404 {
		t.Fatalf("GET: %v", err)
	} else {
		resp.Body.Close()
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + ln.Addr().String()); err == nil {
		t.Fatal("still serving after stop")
	}
}
