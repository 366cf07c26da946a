package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/cspwatch/cspwatch/internal/envflag"
	"github.com/cspwatch/cspwatch/internal/probe"
)

// errUsage marks an error in the command line; it exits with status 2.
var errUsage = envflag.ErrUsage

// Main runs one ingest subcommand. It is what main calls and what the
// end-to-end tests call, with their own context, environment and streams.
func Main(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "parse":
		return parse(ctx, args, getenv, stdin, stdout, stderr)
	case "healthcheck":
		// The runtime image has no shell or curl: the binary probes itself.
		return probe.Command(ctx, "ingest", args, getenv, "http://127.0.0.1:8080/readyz")
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q (want serve, parse or healthcheck)", errUsage, cmd)
}

const usage = `usage:
  ingest [serve] [flags]     receive signed SyncML webhooks and publish install events
  ingest parse [FILE...]     print the install events of captured SyncML messages (stdin when no FILE)
  ingest parse --commands [FILE...]
                             print the command events of captured messages the MDM server sent to a device
  ingest healthcheck [--url U] exit 0 when U (default the local /readyz) answers 200; for container health checks
  ingest <command> -h        the command's flags
`

func exitCode(err error) int {
	if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}
