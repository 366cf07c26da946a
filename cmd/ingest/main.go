// Command ingest receives SyncML messages from an MDM server as signed
// webhooks, turns them into install events and publishes them to NATS
// JetStream. `ingest parse FILE...` prints the events a captured message
// yields, without any server.
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
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(exitCode(err))
	}
}
