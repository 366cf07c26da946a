package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/cspwatch/cspwatch/internal/probe"
)

// healthcheck is the container health check: the runtime image has no
// shell or curl, so the binary probes its own readiness endpoint.
func healthcheck(ctx context.Context, args []string, getenv func(string) string) error {
	def := "http://127.0.0.1:8081/readyz"
	if v := getenv("CSPWATCH_HEALTHCHECK_URL"); v != "" {
		def = v
	}
	fs := flag.NewFlagSet("aggregator healthcheck", flag.ContinueOnError)
	url := fs.String("url", def, "readiness URL to probe")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return probe.Check(ctx, *url, *timeout)
}
