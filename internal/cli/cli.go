// Package cli is the one command-line convention of every cspwatch binary.
// A binary is a tree of ffcli commands; App runs it so that every binary
// behaves alike:
//
//   - -h, --help and the word help print the command's usage, its
//     subcommands and its flags to stdout and exit 0, at every level ("X
//     help sub" and "X sub help" are "X sub -h");
//   - --version prints the binary's name, version, commit and Go version,
//     and the top level's help lists it;
//   - a command that needs a subcommand and gets none prints its usage to
//     stderr and exits 2;
//   - every flag can be set from the environment: --nats-url is
//     CSPWATCH_NATS_URL (EnvKey); the command line wins over the
//     environment, and the environment over the defaults; a destructive
//     flag marked CommandLineOnly is never read from the environment;
//   - an unknown CSPWATCH_* variable is a warning, not an error, naming
//     the closest variable when it is near enough to be a misspelling; a
//     variable of any command of the binary is known to all of them;
//   - an invalid value says what is expected ("--since: want a duration
//     such as 24h, got \"x\"") and exits 2.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// ErrUsage marks an error in the command line or the environment: the
// binaries exit with status 2 on it.
var ErrUsage = errors.New("usage")

// Usagef returns an error that wraps ErrUsage, with the message format
// gives.
func Usagef(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

// AsUsage wraps err as a usage error; nil stays nil.
func AsUsage(err error) error {
	if err == nil || errors.Is(err, ErrUsage) || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return &usageError{msg: err.Error(), err: err}
}

type usageError struct {
	msg string
	err error
}

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == ErrUsage }
func (e *usageError) Unwrap() error        { return e.err }

// ExitCode is the exit status of a command that returned err: 0 for nil
// and for a help request, 2 for a usage error, 1 for any other.
func ExitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	}
	return 1
}

// App runs one binary's command tree with the convention of the package.
type App struct {
	// Root is the binary's command; its Name is the binary's name.
	Root *ffcli.Command
	// EnvPrefix is the prefix of the binary's variables, without the
	// trailing underscore; empty means EnvPrefix.
	EnvPrefix string
	// Getenv reads one variable; nil reads none.
	Getenv func(string) string
	// Environ lists the process's variables as KEY=VALUE, for the warning
	// on unknown ones; nil warns of none.
	Environ func() []string
	// Prefixes gives a command, by its path ("aggregator healthcheck"),
	// a prefix of its own instead of EnvPrefix.
	Prefixes       map[string]string
	Stdout, Stderr io.Writer

	help *ffcli.Command
	errs *valueErrors
}

// EnvPrefix is the prefix of the services' variables: --nats-url is
// CSPWATCH_NATS_URL.
const EnvPrefix = "CSPWATCH"

func (a *App) prefix() string {
	if a.EnvPrefix == "" {
		return EnvPrefix
	}
	return a.EnvPrefix
}

// prefixOf is the prefix of the variables of c's flags.
func (a *App) prefixOf(c *ffcli.Command) string {
	if p, ok := a.Prefixes[c.FlagSet.Name()]; ok {
		return p
	}
	return a.prefix()
}

// Run parses args, applies the environment and runs the command they
// select. It returns nil after printing help or the version, an error
// wrapping ErrUsage for a command-line or environment error (after
// printing the usage when no command was selected), and otherwise what the
// command returns.
func (a *App) Run(ctx context.Context, args []string) error {
	if a.Getenv == nil {
		a.Getenv = func(string) string { return "" }
	}
	a.errs = &valueErrors{}
	args = helpArgs(a.Root, args)
	a.prepare(a.Root, a.Root.Name)
	version := a.Root.FlagSet.Bool("version", false, "print the version and exit")
	known, cmdLine := map[string]string{}, map[string]string{}
	a.walk(a.Root, func(c *ffcli.Command) {
		c.FlagSet.VisitAll(func(f *flag.Flag) {
			switch {
			case c == a.Root && f.Name == "version":
			case commandLineOnly(f):
				cmdLine[EnvKey(a.prefixOf(c), f.Name)] = f.Name
			default:
				known[EnvKey(a.prefixOf(c), f.Name)] = f.Name
			}
		})
	})
	if a.Environ != nil {
		warnUnknownEnv(a.Stderr, a.Root.Name, a.prefix(), a.Environ(), a.Getenv, known, cmdLine)
	}

	err := a.Root.Parse(args)
	if *version {
		_, werr := fmt.Fprintln(a.Stdout, Build(a.Root.Name))
		return werr
	}
	var noExec ffcli.NoExecError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return a.printHelp()
	case errors.As(err, &noExec):
		c := noExec.Command
		fmt.Fprint(a.Stderr, a.usage(c))
		if rest := c.FlagSet.Args(); len(rest) > 0 {
			return Usagef("%s: unknown command %q (want %s)", c.FlagSet.Name(), rest[0], subcommandNames(c))
		}
		return Usagef("%s: want a command: %s", c.FlagSet.Name(), subcommandNames(c))
	case err != nil:
		return a.errs.explain(a.parsedName(), err)
	}

	var envErr error
	a.walk(a.Root, func(c *ffcli.Command) {
		if envErr == nil && c.FlagSet.Parsed() {
			envErr = applyEnv(c.FlagSet, a.Getenv, a.prefixOf(c), a.errs, "version")
		}
	})
	if envErr != nil {
		return envErr
	}

	err = a.Root.Run(ctx)
	if errors.Is(err, flag.ErrHelp) {
		return a.printHelp()
	}
	return err
}

// helpArgs rewrites the word help, at any level, into -h: "X help" and
// "X help sub" are "X sub -h", "X sub help" is "X sub -h". Only a help
// that follows the names of commands counts, so a flag's value or a
// positional argument after a flag is never taken for it.
func helpArgs(root *ffcli.Command, args []string) []string {
	c := root
	for i, arg := range args {
		if arg == "help" {
			out := append([]string{}, args[:i]...)
			out = append(out, args[i+1:]...)
			return append(out, "-h")
		}
		var next *ffcli.Command
		for _, s := range c.Subcommands {
			if s.Name == arg {
				next = s
			}
		}
		if next == nil {
			return args
		}
		c = next
	}
	return args
}

func (a *App) printHelp() error {
	c := a.help
	if c == nil {
		c = a.Root
	}
	_, err := io.WriteString(a.Stdout, a.usage(c))
	return err
}

// parsedName is the name of the deepest command whose flags were parsed.
func (a *App) parsedName() string {
	name := a.Root.Name
	a.walk(a.Root, func(c *ffcli.Command) {
		if c.FlagSet.Parsed() {
			name = c.FlagSet.Name()
		}
	})
	return name
}

// prepare gives every command of the tree a quiet flag set named by its
// path ("aggregator dlq list"), values that explain their errors, and the
// package's usage.
func (a *App) prepare(c *ffcli.Command, path string) {
	if c.FlagSet == nil {
		c.FlagSet = flag.NewFlagSet(path, flag.ContinueOnError)
	}
	c.FlagSet.Init(path, flag.ContinueOnError)
	c.FlagSet.SetOutput(io.Discard)
	describe(c.FlagSet, a.errs)
	c.UsageFunc = func(c *ffcli.Command) string {
		a.help = c // flag calls Usage on -h: the last one asked is the one to print
		return ""
	}
	for _, s := range c.Subcommands {
		a.prepare(s, path+" "+s.Name)
	}
}

func (a *App) walk(c *ffcli.Command, fn func(*ffcli.Command)) {
	fn(c)
	for _, s := range c.Subcommands {
		a.walk(s, fn)
	}
}

func (a *App) usage(c *ffcli.Command) string {
	u := Usage(c, a.prefixOf(c))
	if c == a.Root {
		u += "\nGlobal flags:\n  -version\n    \tprint the version, commit and Go version, and exit\n"
	}
	return u
}

func subcommandNames(c *ffcli.Command) string {
	names := make([]string, len(c.Subcommands))
	for i, s := range c.Subcommands {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}
