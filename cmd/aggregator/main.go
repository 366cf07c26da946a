// Command aggregator moves install events from NATS JetStream into
// ClickHouse (`aggregator run`, the default) and prints a fleet summary
// from ClickHouse (`aggregator report`).
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
	err := Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "aggregator:", err)
		os.Exit(exitCode(err))
	}
}
