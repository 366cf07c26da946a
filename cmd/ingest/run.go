package main

import (
	"context"
	"io"
	"os"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/internal/probe"
)

// errUsage marks an error in the command line; it exits with status 2.
var errUsage = cli.ErrUsage

// exitCode is the exit status of err (cli.ExitCode).
func exitCode(err error) int { return cli.ExitCode(err) }

// Main runs one ingest subcommand. It is what main calls and what the
// end-to-end tests call, with their own context, environment and streams.
// Without a subcommand it prints the usage to stderr and returns a usage
// error; -h prints it to stdout and returns nil.
func Main(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	app := cli.App{
		Root: &ffcli.Command{
			Name:       "ingest",
			ShortUsage: "ingest <command> [flags]",
			LongHelp: `Receives SyncML messages from an MDM server as signed webhooks, turns
them into install events and publishes them to NATS JetStream (serve);
prints the events of captured messages without any server (parse).`,
			Subcommands: []*ffcli.Command{
				serveCommand(stdout, stderr),
				parseCommand(stdin, stdout, stderr),
				probe.Command("ingest", "http://127.0.0.1:8080/readyz"),
			},
		},
		Getenv:   getenv,
		Environ:  os.Environ,
		Prefixes: map[string]string{"ingest healthcheck": probe.EnvPrefix},
		Stdout:   stdout,
		Stderr:   stderr,
	}
	return app.Run(ctx, args)
}
