// Package ops is the operations surface every cspwatch service serves the
// same way: GET /metrics (Prometheus), GET /healthz (the process answers)
// and GET /readyz (the service can do its work), and the graceful shutdown
// of an HTTP server.
package ops

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// NewRegistry returns a registry holding the Go runtime's and the
// process's collectors, for a service's own metrics to join.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Routes adds the operations routes to mux: GET /metrics serves reg,
// GET /healthz answers 200 "ok" while the process runs, and GET /readyz
// answers 200 "ready" when ready returns nil, else 503 "not ready: " and
// its error.
func Routes(mux *http.ServeMux, reg *prometheus.Registry, ready func(context.Context) error) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ready(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		io.WriteString(w, "ready\n")
	})
}

// NewServer returns an http.Server for h with timeouts against slow
// clients: 5 s for the headers, 10 s for the request, write the answer
// within write.
func NewServer(h http.Handler, write time.Duration) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: write, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
}

// Serve answers on ln with hs (with TLS when tlsCfg is not nil) until ctx
// ends, then shuts down gracefully: it stops accepting, lets the requests
// in flight finish for at most grace, then closes what remains. It returns
// nil after a shutdown in time, and the server's error when it stops by
// itself.
func Serve(ctx context.Context, hs *http.Server, ln net.Listener, tlsCfg *tls.Config, grace time.Duration) error {
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}
	return shutdown(hs, errc, grace)
}

func shutdown(hs *http.Server, errc <-chan error, grace time.Duration) error {
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc // http.ErrServerClosed once Shutdown began
	if err != nil {
		hs.Close()
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

// Start serves hs on ln in the background and returns the function that
// stops it as Serve does at the end of its context, waiting at most grace.
// An error of the server before stop is logged to log.
func Start(hs *http.Server, ln net.Listener, grace time.Duration, log zerolog.Logger) (stop func() error) {
	errc := make(chan error, 1)
	go func() {
		err := hs.Serve(ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Str("addr", ln.Addr().String()).Msg("http server")
		}
		errc <- err
	}()
	return func() error { return shutdown(hs, errc, grace) }
}
