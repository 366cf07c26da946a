// Package probe is the client side of the health endpoints: a container
// health check runs `ingest healthcheck` or `aggregator healthcheck`, which
// calls Check, because the runtime image has no shell and no curl.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
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
