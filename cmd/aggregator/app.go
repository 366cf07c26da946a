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

// Main runs one aggregator subcommand. It is what main calls and what the
// end-to-end tests call, with their own context, environment and streams.
// Without a subcommand it prints the usage to stderr and returns a usage
// error; -h prints it to stdout and returns nil.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	app := cli.App{
		Root:     command(stdout, stderr),
		Getenv:   getenv,
		Environ:  os.Environ,
		Prefixes: map[string]string{"aggregator healthcheck": probe.EnvPrefix},
		Stdout:   stdout,
		Stderr:   stderr,
	}
	return app.Run(ctx, args)
}

// command is the aggregator's command tree.
func command(stdout, stderr io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:       "aggregator",
		ShortUsage: "aggregator <command> [flags]",
		LongHelp: `Moves install events from NATS JetStream into ClickHouse and detects
failure-code spikes (run); reads the fleet's state back from ClickHouse
(report, alerts, dashboard, sql); manages the product catalog, the
dead-letter stream and the schema.`,
		Subcommands: []*ffcli.Command{
			runCommand(stdout, stderr),
			reportCommand(stdout, stderr),
			dashboardCommand(stdout, stderr),
			alertsCommand(stdout, stderr),
			dlqCommand(stdout, stderr),
			catalogCommand(stdout, stderr),
			sqlCommand(stdout, stderr),
			migrateCommand(stdout, stderr),
			probe.Command("aggregator", "http://127.0.0.1:8081/readyz"),
		},
	}
}
