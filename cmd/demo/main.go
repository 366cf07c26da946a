// Command demo runs the whole pipeline on one machine, as `make demo` does:
// a throwaway ClickHouse (unless CSPWATCH_CLICKHOUSE_ADDR names one),
// ingest with its embedded NATS (unless CSPWATCH_NATS_URL names one), the
// aggregator with spike alerts, and the load generator replaying a
// synthetic fleet with an injected 1603 spike. It prints progress (one line
// updated in place on a terminal), then the fleet report and the spike
// alert, writes the HTML report to a file and checks the aggregator's web
// dashboard, printing both places; then it stops every process it started,
// or with --keep leaves them running until Ctrl-C.
package main

import (
	"context"
	"os"

	"github.com/cspwatch/cspwatch/internal/cli"
)

func main() {
	cli.Main("demo", func(ctx context.Context) error {
		return Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	})
}
