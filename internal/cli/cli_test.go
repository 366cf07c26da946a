package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// tree is a binary "bin" with a group "grp" holding a leaf "leaf", and a
// leaf "top"; ran records what the leaves ran with.
type tree struct {
	since time.Duration
	n     int
	mode  string
	all   bool
	ran   []string
}

func (tr *tree) command() *ffcli.Command {
	leaf := flag.NewFlagSet("bin grp leaf", flag.ContinueOnError)
	leaf.DurationVar(&tr.since, "since", 24*time.Hour, "how far back")
	leaf.IntVar(&tr.n, "count", 1, "how many")
	tr.mode = "json"
	EnumVar(leaf, &tr.mode, "log-format", "log format", "json", "console")
	top := flag.NewFlagSet("bin top", flag.ContinueOnError)
	top.String("nats-url", "", "NATS URL")
	top.BoolVar(&tr.all, "all", false, "every one")
	CommandLineOnly(top, "all")
	return &ffcli.Command{
		Name: "bin",
		Subcommands: []*ffcli.Command{
			{Name: "grp", ShortHelp: "a group", Subcommands: []*ffcli.Command{
				Leaf(&ffcli.Command{Name: "leaf", ShortHelp: "a leaf", FlagSet: leaf}, nil,
					func(context.Context) error { tr.ran = append(tr.ran, "leaf"); return nil }),
			}},
			Leaf(&ffcli.Command{Name: "top", ShortHelp: "the top leaf", FlagSet: top}, nil,
				func(context.Context) error {
					tr.ran = append(tr.ran, "top")
					if tr.all {
						tr.ran = append(tr.ran, "all")
					}
					return nil
				}),
		},
	}
}

func run(t *testing.T, env map[string]string, args ...string) (*tree, string, string, error) {
	t.Helper()
	tr := &tree{}
	var out, errb bytes.Buffer
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	app := App{Root: tr.command(), Getenv: func(k string) string { return env[k] },
		Environ: func() []string { return environ }, Stdout: &out, Stderr: &errb}
	err := app.Run(context.Background(), args)
	return tr, out.String(), errb.String(), err
}

func TestRun(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		env          map[string]string
		exit         int
		stdout       string
		stderr       string
		err          string
		since        time.Duration
		ran          string
		wantNoStdout bool
		exactStderr  bool // stderr is tt.stderr and nothing else
	}{
		{name: "help", args: []string{"-h"}, stdout: "Commands:\n  grp  a group\n  top  the top leaf\n"},
		{name: "help word", args: []string{"help"}, stdout: "  grp  a group"},
		{name: "help lists version", args: []string{"-h"}, stdout: "  -version\n"},
		{name: "help word of a group", args: []string{"help", "grp"}, stdout: "usage: bin grp <command>\n"},
		{name: "help word of a leaf", args: []string{"help", "grp", "leaf"}, stdout: "  -since duration\n"},
		{name: "group help word", args: []string{"grp", "help"}, stdout: "usage: bin grp <command>\n"},
		{name: "group help word leaf", args: []string{"grp", "help", "leaf"}, stdout: "  -since duration\n"},
		{name: "leaf help word", args: []string{"top", "help"}, stdout: "  -nats-url string\n"},
		{name: "help after a flag is a value", args: []string{"top", "--nats-url", "help"}, ran: "top"},
		{name: "far unknown env: no suggestion", args: []string{"top"}, env: map[string]string{"CSPWATCH_FOO": "x"},
			stderr: "bin: warning: CSPWATCH_FOO is not a variable of bin\n", exactStderr: true, ran: "top"},
		{name: "near unknown env: a suggestion", args: []string{"top"}, env: map[string]string{"CSPWATCH_COUNTT": "x"},
			stderr: "bin: warning: CSPWATCH_COUNTT is not a variable of bin; did you mean CSPWATCH_COUNT (--count)?\n", exactStderr: true, ran: "top"},
		{name: "command-line-only flag", args: []string{"top"}, env: map[string]string{"CSPWATCH_ALL": "1"},
			stderr: "bin: warning: CSPWATCH_ALL is ignored: --all is taken from the command line only\n", exactStderr: true, ran: "top"},
		{name: "command-line-only help", args: []string{"top", "-h"}, stdout: "  -all\n    \tevery one (command line only: never read from the environment)\n"},
		{name: "command-line-only flag given", args: []string{"top", "--all"}, ran: "top,all"},
		{name: "group help", args: []string{"grp", "--help"}, stdout: "usage: bin grp <command>\n"},
		{name: "leaf help", args: []string{"grp", "leaf", "-h"}, stdout: "  -since duration\n    \thow far back (default 24h0m0s) [CSPWATCH_SINCE]\n"},
		{name: "version", args: []string{"--version"}, stdout: "bin devel"},
		{name: "no command", exit: 2, stderr: "usage: bin <command>", err: "bin: want a command: grp, top", wantNoStdout: true},
		{name: "group without command", args: []string{"grp"}, exit: 2, stderr: "  leaf  a leaf", err: "bin grp: want a command: leaf"},
		{name: "unknown command", args: []string{"frob"}, exit: 2, err: `bin: unknown command "frob" (want grp, top)`},
		{name: "duration", args: []string{"grp", "leaf", "--since", "x"}, exit: 2, err: `bin grp leaf: --since: want a duration such as 24h, 90s or 1h30m, got "x"`},
		{name: "int", args: []string{"grp", "leaf", "--count", "x"}, exit: 2, err: `--count: want an integer, got "x"`},
		{name: "enum", args: []string{"grp", "leaf", "--log-format", "xml"}, exit: 2, err: `--log-format: want json or console, got "xml"`},
		{name: "unknown flag", args: []string{"top", "--nats-ur", "x"}, exit: 2, err: "unknown flag --nats-ur"},
		{name: "no value", args: []string{"top", "--nats-url"}, exit: 2, err: "--nats-url: needs a value"},
		{name: "env", args: []string{"grp", "leaf"}, env: map[string]string{"CSPWATCH_SINCE": "1h"}, since: time.Hour, ran: "leaf"},
		{name: "flag wins over env", args: []string{"grp", "leaf", "--since", "2h"}, env: map[string]string{"CSPWATCH_SINCE": "1h"}, since: 2 * time.Hour, ran: "leaf"},
		{name: "bad env", args: []string{"grp", "leaf"}, env: map[string]string{"CSPWATCH_SINCE": "soon"}, exit: 2, err: `CSPWATCH_SINCE="soon": --since: want a duration`},
		{name: "unknown env warns", args: []string{"top"}, env: map[string]string{"CSPWATCH_NATS_UR": "x", "CSPWATCH_SINCE": "1h", "CSPWATCH_DEMO_X": "1", "CSPWATCH_BIND": "0.0.0.0"},
			stderr: "bin: warning: CSPWATCH_NATS_UR is not a variable of bin; did you mean CSPWATCH_NATS_URL (--nats-url)?\n", exactStderr: true, ran: "top"},
		{name: "stray argument", args: []string{"top", "now"}, exit: 2, err: `unexpected arguments ["now"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, out, errOut, err := run(t, tt.env, tt.args...)
			if ExitCode(err) != tt.exit {
				t.Fatalf("exit %d (%v), want %d; stderr %q", ExitCode(err), err, tt.exit, errOut)
			}
			if tt.err != "" && !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %q lacks %q", err, tt.err)
			}
			if !strings.Contains(out, tt.stdout) || (tt.wantNoStdout && out != "") {
				t.Errorf("stdout %q lacks %q", out, tt.stdout)
			}
			if !strings.Contains(errOut, tt.stderr) || (tt.exactStderr && errOut != tt.stderr) {
				t.Errorf("stderr %q, want %q", errOut, tt.stderr)
			}
			if tt.stderr == "" && tt.exit == 0 && errOut != "" {
				t.Errorf("stderr %q, want none", errOut)
			}
			if tt.since != 0 && tr.since != tt.since {
				t.Errorf("since %v, want %v", tr.since, tt.since)
			}
			if got := strings.Join(tr.ran, ","); got != tt.ran {
				t.Errorf("ran %q, want %q", got, tt.ran)
			}
		})
	}
}

func TestPositional(t *testing.T) {
	fs := flag.NewFlagSet("bin load", flag.ContinueOnError)
	dry := fs.Bool("dry-run", false, "")
	pos, err := ParsePositional(fs, []string{"a.csv", "--dry-run", "b.csv", "--", "-c"}, func(string) string { return "" }, &bytes.Buffer{})
	if err != nil || !*dry || strings.Join(pos, " ") != "a.csv b.csv -c" {
		t.Fatalf("%q %v %v", pos, *dry, err)
	}
	var help bytes.Buffer
	fs = flag.NewFlagSet("bin load", flag.ContinueOnError)
	fs.Bool("dry-run", false, "check only")
	if _, err := ParsePositional(fs, []string{"a.csv", "-h"}, func(string) string { return "" }, &help); !errors.Is(err, flag.ErrHelp) || !strings.Contains(help.String(), "  -dry-run\n") {
		t.Fatalf("-h: %v %q", err, help.String())
	}
}

func TestClosest(t *testing.T) {
	tests := []struct {
		s    string
		in   []string
		want string
	}{
		{"CSPWATCH_NATS_UR", []string{"CSPWATCH_LISTEN", "CSPWATCH_NATS_URL", "CSPWATCH_NATS_USER"}, "CSPWATCH_NATS_URL"},
		{"CSPWATCH_CLICKHOUSE_ADR", []string{"CSPWATCH_CLICKHOUSE_ADDR", "CSPWATCH_CLICKHOUSE_USER"}, "CSPWATCH_CLICKHOUSE_ADDR"},
		{"X", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			if got := Closest(tt.s, tt.in); got != tt.want {
				t.Fatalf("Closest = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		s    string
		in   []string
		want string
	}{
		{"NATS_UR", []string{"LISTEN", "NATS_URL"}, "NATS_URL"},
		{"LISTN", []string{"LISTEN", "NATS_URL"}, "LISTEN"},
		{"CLICKHOUSE_ADR", []string{"CLICKHOUSE_ADDR", "CLICKHOUSE_USER"}, "CLICKHOUSE_ADDR"},
		{"FOO", []string{"LISTEN", "NATS_URL"}, ""},
		{"FOO", []string{"TOP", "LISTEN"}, ""},
		{"BATCH", []string{"LISTEN", "NATS_URL"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			if got := Suggest(tt.s, tt.in); got != tt.want {
				t.Fatalf("Suggest = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	defer func(v, c string) { Version, Commit = v, c }(Version, Commit)
	Version, Commit = "v1.2.3", "abc1234"
	b := Build("aggregator")
	if got := b.String(); !strings.HasPrefix(got, "aggregator v1.2.3 (commit abc1234, go") {
		t.Fatalf("Build = %q", got)
	}
	Version, Commit = "", ""
	if b := Build("x"); b.Version == "" || b.Commit == "" {
		t.Fatalf("unstamped build %+v", b)
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0}, {flag.ErrHelp, 0}, {Usagef("x"), 2}, {AsUsage(errors.New("x")), 2}, {errors.New("x"), 1},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestSignalExit(t *testing.T) {
	t.Run("first signal: shutdown exits 0", func(t *testing.T) {
		sigs := make(chan os.Signal, 2)
		var stderr bytes.Buffer
		code := mainCode("bin", func(ctx context.Context) error {
			sigs <- syscall.SIGTERM
			<-ctx.Done()
			return fmt.Errorf("clickhouse not reachable: %w", context.Cause(ctx))
		}, sigs, 0, &stderr, func(int) { t.Error("exit called") })
		if code != 0 || stderr.Len() != 0 {
			t.Fatalf("exit %d, stderr %q; want 0 and none", code, stderr.String())
		}
	})
	t.Run("error without a signal", func(t *testing.T) {
		var stderr bytes.Buffer
		code := mainCode("bin", func(ctx context.Context) error { return context.Canceled }, make(chan os.Signal), 0, &stderr, func(int) {})
		if code != 1 || stderr.String() != "bin: context canceled\n" {
			t.Fatalf("exit %d, stderr %q", code, stderr.String())
		}
	})
	t.Run("second signal forces the exit", func(t *testing.T) {
		sigs := make(chan os.Signal, 2)
		var mu sync.Mutex
		var stderr bytes.Buffer
		exited := make(chan int, 1)
		release := make(chan struct{})
		go mainCode("bin", func(ctx context.Context) error {
			sigs <- os.Interrupt
			<-ctx.Done()
			sigs <- os.Interrupt
			<-release // a shutdown that hangs
			return nil
		}, sigs, 0, lockedWriter{&mu, &stderr}, func(c int) { exited <- c })
		defer close(release)
		select {
		case c := <-exited:
			if c != 130 {
				t.Errorf("exit %d, want 130", c)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no exit on the second signal")
		}
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(stderr.String(), "second interrupt signal") {
			t.Errorf("stderr %q", stderr.String())
		}
	})
}

// The same signal delivered twice at once (to the process and to its
// group) is one request, not two.
func TestSignalTwiceAtOnceIsOne(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	var stderr bytes.Buffer
	code := mainCode("bin", func(ctx context.Context) error {
		sigs <- syscall.SIGTERM
		sigs <- syscall.SIGTERM
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // the copy arrives during the shutdown
		return ctx.Err()
	}, sigs, time.Minute, &stderr, func(int) { t.Error("exit called on a copy of the first signal") })
	if code != 0 || stderr.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
