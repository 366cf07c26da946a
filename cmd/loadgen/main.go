// Command loadgen replays a synthetic fleet of Windows devices against
// ingest as signed webhooks and reports rates, latency and errors.
// `loadgen bench` also runs ingest (with embedded NATS) in a child process
// and compares its events/s with the raw JetStream publish rate, measured in
// the same run.
package main

import (
	"context"
	"os"

	"github.com/cspwatch/cspwatch/internal/cli"
)

func main() {
	cli.Main("loadgen", func(ctx context.Context) error {
		return Main(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	})
}
