// Command ingest receives SyncML messages from an MDM server as signed
// webhooks, turns them into install events and publishes them to NATS
// JetStream. `ingest parse FILE...` prints the events a captured message
// yields, without any server.
package main

import (
	"context"
	"os"

	"github.com/cspwatch/cspwatch/internal/cli"
)

func main() {
	cli.Main("ingest", func(ctx context.Context) error {
		return Main(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	})
}
