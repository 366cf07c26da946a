// Command loadgen replays a synthetic fleet of Windows devices against
// ingest as signed webhooks and reports rates, latency and errors.
// `loadgen bench` also runs ingest (with embedded NATS) in a child process
// and compares its events/s with the raw JetStream publish rate, measured in
// the same run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Main(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(exitCode(err))
	}
}
