// Package probe is the client side of the health endpoints: a container
// health check runs `ingest healthcheck` or `aggregator healthcheck`, which
// calls Check, because the runtime image has no shell and no curl.
package probe

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cspwatch/cspwatch/internal/envflag"
)

// ErrNotReady reports a health endpoint that answered with a status other
// than 200: the service runs but is not ready, so a check should fail
// without being retried at once.
var ErrNotReady = errors.New("not ready")

// Check GETs url and returns nil only on a 200 within timeout. It reads at
// most 4 KiB of the body, to quote it in the error.
func Check(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health check %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check %s: %w: %s %q", url, ErrNotReady, resp.Status, body)
	}
	return nil
}

// Command is the `healthcheck` subcommand of ingest and aggregator: it
// probes --url (default def, or CSPWATCH_HEALTHCHECK_URL) and returns nil
// only on a 200 within --timeout. Command-line errors wrap
// envflag.ErrUsage.
func Command(ctx context.Context, name string, args []string, getenv func(string) string, def string) error {
	fs := flag.NewFlagSet(name+" healthcheck", flag.ContinueOnError)
	url := fs.String("url", def, "readiness URL to probe")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := envflag.Parse(fs, args, getenv, "CSPWATCH_HEALTHCHECK_"); err != nil {
		return err
	}
	return Check(ctx, *url, *timeout)
}
