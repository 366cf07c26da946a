// Command aggregator moves install events from NATS JetStream into
// ClickHouse and detects failure-code spikes in them (`aggregator run`;
// the command is required), prints a fleet summary (`aggregator report`) and the spike
// alerts (`aggregator alerts`) from ClickHouse, loads and lists the
// product catalog that names their products (`aggregator catalog`), and
// lists, renders and runs the administrators' analyses of
// schema/queries.sql (`aggregator sql`).
package main

import (
	"context"
	"os"

	"github.com/cspwatch/cspwatch/internal/cli"
)

func main() {
	cli.Main("aggregator", func(ctx context.Context) error {
		return Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	})
}
