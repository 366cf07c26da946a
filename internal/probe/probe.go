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

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/cspwatch/cspwatch/internal/cli"
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

// EnvPrefix is the prefix of the healthcheck command's variables:
// CSPWATCH_HEALTHCHECK_URL and CSPWATCH_HEALTHCHECK_TIMEOUT. Give it to
// cli.App.Prefixes for the command's path.
const EnvPrefix = "CSPWATCH_HEALTHCHECK"

// Command is the `healthcheck` subcommand of binary (ingest, aggregator): it
// probes --url (default def) and returns nil only on a 200 within
// --timeout.
func Command(binary, def string) *ffcli.Command {
	fs := flag.NewFlagSet(binary+" healthcheck", flag.ContinueOnError)
	url := fs.String("url", def, "readiness URL to probe")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	return &ffcli.Command{
		Name:       "healthcheck",
		ShortUsage: binary + " healthcheck [--url URL] [--timeout 3s]",
		ShortHelp:  "exit 0 when the readiness URL answers 200 (for container health checks: the image has no shell)",
		FlagSet:    fs,
		Exec: func(ctx context.Context, args []string) error {
			if err := cli.NoArgs(fs, args); err != nil {
				return err
			}
			if *timeout <= 0 {
				return cli.Usagef("%s: --timeout: want a positive duration such as 3s, got %v", fs.Name(), *timeout)
			}
			if err := cli.CheckURL("url", *url, def, "http", "https"); err != nil {
				return cli.Usagef("%s: %v", fs.Name(), err)
			}
			return Check(ctx, *url, *timeout)
		},
	}
}
