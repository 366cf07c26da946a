// Command aggregator moves install events from NATS JetStream into
// ClickHouse and detects failure-code spikes in them (`aggregator run`, the
// default), prints a fleet summary (`aggregator report`) and the spike
// alerts (`aggregator alerts`) from ClickHouse, loads and lists the
// product catalog that names their products (`aggregator catalog`), and
// lists, renders and runs the administrators' analyses of
// schema/queries.sql (`aggregator sql`).
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
