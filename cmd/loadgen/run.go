package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/ingest"
	"github.com/cspwatch/cspwatch/internal/sim/fleet"
	"github.com/cspwatch/cspwatch/internal/sim/loadgen"
	"github.com/peterbourgon/ff/v3/ffcli"
)

// errUsage marks an error in the command line; it exits with status 2.
var errUsage = cli.ErrUsage

// exitCode is the exit status of err (cli.ExitCode).
func exitCode(err error) int { return cli.ExitCode(err) }

// envPrefix is the prefix of loadgen's variables: CSPWATCH_LOADGEN_<FLAG>.
const envPrefix = "CSPWATCH_LOADGEN"

// Main runs one loadgen subcommand; main and the tests call it. Without a
// subcommand it prints the usage to stderr and returns a usage error; -h
// prints it to stdout and returns nil.
func Main(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == childCommand {
		return child(ctx, args[1:], stdin, stdout, stderr)
	}
	app := cli.App{
		Root: &ffcli.Command{
			Name:       "loadgen",
			ShortUsage: "loadgen <command> [flags]",
			LongHelp: `Replays a synthetic fleet of Windows devices against ingest as signed
webhooks and reports rates, latency and errors.`,
			Subcommands: []*ffcli.Command{runCommand(stdout, stderr), benchCommand(stdout, stderr)},
		},
		EnvPrefix: envPrefix,
		Getenv:    getenv,
		Environ:   os.Environ,
		Stdout:    stdout,
		Stderr:    stderr,
	}
	return app.Run(ctx, args)
}

// childCommand is the hidden command bench re-executes itself with.
const childCommand = "_ingest"

// fleetFlags configure the synthetic fleet (internal/sim/fleet) whose messages
// the load generator sends, and the failure spike it may inject.
type fleetFlags struct {
	devices       int
	seed          int64
	spikeProduct  string
	spikeVersion  string
	spikeCode     string
	spikeAt       int
	spikeFraction float64
}

func (f *fleetFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.devices, "devices", 5000, "devices in the synthetic fleet")
	fs.Int64Var(&f.seed, "seed", 1, "seed of the synthetic fleet: the same seed sends the same messages (whose events then deduplicate)")
	fs.StringVar(&f.spikeProduct, "spike-product", "", "inject a failure spike on this product, by name or ProductCode (empty: no spike)")
	fs.StringVar(&f.spikeVersion, "spike-version", "", "the spiked version of --spike-product (empty: its newest)")
	fs.StringVar(&f.spikeCode, "spike-code", "1603", "the spike's failure code: a Win32 code, an HRESULT (0x80070643 or -2147023293) or an Office status")
	fs.IntVar(&f.spikeAt, "spike-at", 0, "index of the message (from 0) at which the spike starts")
	fs.Float64Var(&f.spikeFraction, "spike-fraction", 0.3, "fraction of the devices reporting the spiked version that fail, in (0,1]")
}

// config is the fleet the flags describe.
func (f *fleetFlags) config() (fleet.Config, error) {
	c := fleet.Config{Devices: f.devices, Seed: f.seed}
	if f.devices <= 0 {
		return c, cli.Usagef("--devices: want a positive integer, got %d", f.devices)
	}
	if f.spikeProduct != "" {
		code, ok := codes.Parse([]byte(strings.TrimSpace(f.spikeCode)))
		if !ok {
			return c, cli.Usagef("--spike-code: want a result code such as 1603, 0x80070643 or -2147023293, got %q", f.spikeCode)
		}
		c.Spike = &fleet.Spike{Product: f.spikeProduct, Version: f.spikeVersion, Code: code, Start: f.spikeAt, Fraction: f.spikeFraction}
	}
	if err := c.Validate(); err != nil {
		return c, cli.AsUsage(err)
	}
	return c, nil
}

// source is the fleet's messages; with commands, each with the server's
// message it answers.
func (f *fleetFlags) source(commands bool) (loadgen.Source, error) {
	c, err := f.config()
	if err != nil {
		return nil, err
	}
	c.Commands = commands
	fl, err := fleet.New(c)
	if err != nil {
		return nil, cli.AsUsage(err)
	}
	return loadgen.FromFleet(fl), nil
}

// describe names the fleet in the bench's report.
func (f *fleetFlags) describe() string {
	s := fmt.Sprintf("synthetic fleet of %d devices (seed %d)", f.devices, f.seed)
	if f.spikeProduct != "" {
		s += fmt.Sprintf(", spike %s %s code %s on %.0f%% from message %d", f.spikeProduct, f.spikeVersion, f.spikeCode, 100*f.spikeFraction, f.spikeAt)
	}
	return s
}

// runCommand is `loadgen run`.
func runCommand(stdout, stderr io.Writer) *ffcli.Command {
	fs := flag.NewFlagSet("loadgen run", flag.ContinueOnError)
	var c loadgen.Config
	var ff fleetFlags
	ff.register(fs)
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "ingest base URL")
	fs.StringVar(&c.Tenant, "tenant", "", "tenant (in the path; required with --secret)")
	fs.StringVar(&c.Secret, "secret", "", "the tenant's webhook HMAC secret (prefer the environment variable)")
	fs.StringVar(&c.Token, "token", "", "a bearer token instead of a signature")
	fs.IntVar(&c.Workers, "workers", 16, "concurrent clients")
	fs.Float64Var(&c.Rate, "rate", 0, "device messages per second over all workers, each with the server message it answers (0: as fast as possible)")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long to send (0: until --count)")
	fs.Int64Var(&c.Count, "count", 0, "how many device messages to send (0: until --duration)")
	commands := fs.Bool("commands", true, "also send the MDM server's messages, each before the device message that answers it (a few after it), to "+loadgen.CommandsPath)
	fs.BoolVar(&c.Gzip, "gzip", false, "gzip the bodies")
	fs.BoolVar(&c.FastClient, "fast-client", false, "use a minimal HTTP/1.1 client (plain http only) instead of net/http")
	fs.IntVar(&c.Retries, "retries", 5, "resends of a message answered 503 or not answered")
	fs.DurationVar(&c.RetryWait, "retry-wait", 500*time.Millisecond, "pause before a resend")
	quiet := fs.Bool("quiet", false, "no progress lines")
	return cli.Leaf(&ffcli.Command{
		Name:       "run",
		ShortUsage: "loadgen run [flags]",
		ShortHelp:  "send a synthetic fleet's messages to a running ingest (the devices' and the server's they answer)",
		FlagSet:    fs,
	}, func() error { return checkRunFlags(fs, c) }, func(ctx context.Context) error {
		src, err := ff.source(*commands)
		if err != nil {
			return err
		}
		if !*quiet {
			c.ProgressEvery = time.Second
			c.Progress = func(s loadgen.Snapshot) {
				fmt.Fprintf(stderr, "%6.1fs  %9d device msgs  %8d server msgs  %8.0f device msgs/s  %9.0f events/s  %d errors\n",
					s.Elapsed.Seconds(), s.Messages, s.Commands, s.MessageRate, s.EventRate, s.Errors)
			}
		}
		r, err := loadgen.Run(ctx, c, src)
		if err != nil {
			return err
		}
		printResult(stdout, "run", r)
		if r.Errors > 0 {
			return fmt.Errorf("%d messages failed", r.Errors)
		}
		return nil
	})
}

// printResult prints a run's line: device messages, then (when any were
// sent) the server's messages and their events. events/s counts both
// kinds' events; events/msg is the device messages' own.
func printResult(w io.Writer, name string, r loadgen.Result) {
	fmt.Fprintf(w, "%-6s %8d msgs", name, r.Messages)
	if r.Commands > 0 {
		fmt.Fprintf(w, " + %d server msgs (%d events)", r.Commands, r.CommandEvents)
	}
	fmt.Fprintf(w, " in %5.2fs  %8.0f msgs/s  %9.0f events/s acked  %5.2f events/msg  p50 %6.2fms  p90 %6.2fms  p99 %6.2fms  max %7.2fms  %d dup events  %d errors  %d retries",
		r.Elapsed.Seconds(), r.MessageRate(), r.EventRate(), float64(r.Events-r.CommandEvents)/max(float64(r.Messages), 1),
		ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.Duplicates, r.Errors, r.Retries)
	if len(r.ByStatus) > 0 {
		var ks []int
		for k := range r.ByStatus {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		fmt.Fprint(w, "  failed attempts by status:")
		for _, k := range ks {
			fmt.Fprintf(w, " %d:%d", k, r.ByStatus[k])
		}
		fmt.Fprintln(w)
		for _, k := range ks {
			if e := r.FirstErrors[k]; e != "" {
				kind := fmt.Sprintf("status %d", k)
				if k == 0 {
					kind = "no answer"
				}
				fmt.Fprintf(w, "  first failure (%s): %s\n", kind, e)
			}
		}
		return
	}
	fmt.Fprintln(w)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchCommand is `loadgen bench`.
func benchCommand(stdout, stderr io.Writer) *ffcli.Command {
	fs := flag.NewFlagSet("loadgen bench", flag.ContinueOnError)
	var ff fleetFlags
	ff.register(fs)
	c := loadgen.BenchConfig{Log: stderr}
	fs.DurationVar(&c.Phase, "phase", 5*time.Second, "length of each measured phase")
	fs.IntVar(&c.Workers, "workers", 32, "concurrent HTTP clients at full load")
	fs.BoolVar(&c.FastClient, "fast-client", true, "use the minimal HTTP/1.1 client, which leaves ingest more of the machine; false uses net/http")
	fs.BoolVar(&c.Gzip, "gzip", false, "gzip the bodies")
	fs.IntVar(&c.RawSize, "raw-size", 300, "payload bytes of the raw publish baseline")
	fs.IntVar(&c.RawConns, "raw-publishers", 1, "connections publishing in the raw baseline")
	o := benchOptions{persist: bus.PersistDefault}
	fs.IntVar(&o.maxPending, "max-pending", ingest.DefaultConfig().MaxPending, "ingest's --max-pending")
	cli.EnumVar(fs, &o.persist, "stream-persist", "ingest stream persist mode: default or async", bus.PersistDefault, bus.PersistAsync)
	fs.IntVar(&o.replicas, "stream-replicas", 1, "replicas of the install stream: above 1, the bench runs twice in this run, against one embedded nats-server with a 1-replica stream and then against an embedded cluster of this many nodes with a stream of this many replicas, and compares ingest's events/s")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write the ingest child's CPU profile to this file")
	fs.IntVar(&o.pregen, "pregenerate", 384, "MB of messages made before the full-load phase, so that making them does not load the machine while it is measured")
	fs.StringVar(&o.selfprofile, "loadgen-cpuprofile", "", "write the load generator's own CPU profile to this file")
	return cli.Leaf(&ffcli.Command{
		Name:       "bench",
		ShortUsage: "loadgen bench [flags]",
		ShortHelp:  "run ingest with embedded NATS in a child process and measure it against the raw JetStream publish rate, in the same run",
		FlagSet:    fs,
	}, func() error {
		if o.replicas < 1 || o.replicas > 5 {
			return cli.Usagef("--stream-replicas: want 1 to 5, got %d", o.replicas)
		}
		return checkBenchFlags(fs, c, o, ff)
	}, func(ctx context.Context) error { return bench(ctx, c, ff, o, stdout) })
}

// benchOptions are the flags of `loadgen bench` beyond its BenchConfig.
type benchOptions struct {
	maxPending              int
	replicas                int
	persist                 string
	cpuprofile, selfprofile string
	pregen                  int
}

func bench(ctx context.Context, c loadgen.BenchConfig, ff fleetFlags, o benchOptions, stdout io.Writer) error {
	maxPending, persist, cpuprofile, pregen, selfprofile := &o.maxPending, &o.persist, &o.cpuprofile, &o.pregen, &o.selfprofile
	// The benchmark measures the device endpoint against its baseline.
	src, err := ff.source(false)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	stop, err := cpuProfile(*selfprofile)
	if err != nil {
		return err
	}
	defer stop()
	dir, err := os.MkdirTemp("", "cspwatch-bench-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	child := []string{exe, childCommand, "--max-pending", fmt.Sprint(*maxPending), "--stream-persist", *persist}
	if *cpuprofile != "" {
		child = append(child, "--cpuprofile", *cpuprofile)
	}
	c.Source, c.PoolBytes = src, int64(*pregen)<<20
	c.Persist = *persist
	if o.replicas == 1 {
		c.Child = append(child, "--data", dir)
		rep, err := loadgen.Bench(ctx, c)
		if err != nil {
			return err
		}
		printBench(stdout, c, ff, rep)
		return nil
	}
	// The same bench twice in this run: a 1-replica stream on one server,
	// then o.replicas replicas on a cluster of o.replicas nodes.
	var reps [2]loadgen.BenchReport
	for k, r := range []int{1, o.replicas} {
		fmt.Fprintf(stdout, "== install stream with %d replica(s) on %d nats-server(s)\n", r, r)
		c.Child = append(slices.Clone(child), "--stream-replicas", fmt.Sprint(r), "--data", filepath.Join(dir, fmt.Sprintf("r%d", r)))
		if reps[k], err = loadgen.Bench(ctx, c); err != nil {
			return err
		}
		printBench(stdout, c, ff, reps[k])
	}
	r1, rn := reps[0].Full.EventRate(), reps[1].Full.EventRate()
	fmt.Fprintf(stdout, "replicas: ingest at full load %.0f events/s with 1 replica, %.0f events/s with %d replicas (%.1f%%); p99 at half ingest's own maximum %.2f ms vs %.2f ms; raw baseline (a 1-replica stream) %.0f vs %.0f msgs/s\n",
		r1, rn, o.replicas, 100*rn/r1, ms(reps[0].Own.P99), ms(reps[1].Own.P99), reps[0].Raw.Rate(), reps[1].Raw.Rate())
	return nil
}

// printBench prints the figures of one bench run.
func printBench(stdout io.Writer, c loadgen.BenchConfig, ff fleetFlags, rep loadgen.BenchReport) {
	fmt.Fprintf(stdout, "raw    %8d msgs in %5.2fs  %8.0f msgs/s  (JetStream async publish, %d B, Nats-Msg-Id, file stream, %d publisher(s), %d failed)\n",
		rep.Raw.Acked, rep.Raw.Elapsed.Seconds(), rep.Raw.Rate(), c.RawSize, c.RawConns, rep.Raw.Failed)
	client := "net/http"
	if c.FastClient {
		client = "minimal HTTP/1.1"
	}
	fmt.Fprintf(stdout, "ingest phases: %d workers, %s client, signed requests, %s\n", c.Workers, client, ff.describe())
	printResult(stdout, "full", rep.Full)
	printResult(stdout, "half", rep.Half)
	printResult(stdout, "own/2", rep.Own)
	fmt.Fprintf(stdout, "ingest CPU: %.3f s per 1,000 messages at full load (%.2f cores); %.3f s per 1,000 at half load\n",
		rep.CPUPer1000(), rep.FullCPU.Seconds()/rep.Full.Elapsed.Seconds(),
		rep.HalfCPU.Seconds()/max(float64(rep.Half.Messages), 1)*1000)
	if rep.Live > 0 {
		fmt.Fprintf(stdout, "WARNING: %d messages were made during measured phases (raise --pregenerate)\n", rep.Live)
	}
	fmt.Fprintf(stdout, "loadgen CPU at full load: %.2f cores (HTTP client, signing, message generation)\n",
		rep.LoadgenCPU.Seconds()/rep.Full.Elapsed.Seconds())
	fmt.Fprintf(stdout, "nats-server CPU in the raw phase: %.2f cores (%.1f us per message)\n",
		rep.RawCPU.Seconds()/rep.Raw.Elapsed.Seconds(), rep.RawCPU.Seconds()/max(float64(rep.Raw.Acked), 1)*1e6)
	fmt.Fprintf(stdout, "ratio: ingest %.0f events/s / raw %.0f msgs/s = %.1f%% (target >= 80%%)\n",
		rep.Full.EventRate(), rep.Raw.Rate(), 100*rep.Ratio())
	fmt.Fprintf(stdout, "p99 at half the raw rate (%.0f msgs/s offered): %.2f ms; at half ingest's own maximum (%.0f msgs/s): %.2f ms (target < 50 ms)\n",
		rep.HalfRate, ms(rep.Half.P99), rep.OwnRate, ms(rep.Own.P99))
}

// child runs ingest for bench until its stdin closes or ctx ends.
func child(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen "+childCommand, flag.ContinueOnError)
	dir := fs.String("data", "", "nats data directory")
	cfg := ingest.DefaultConfig()
	fs.IntVar(&cfg.MaxPending, "max-pending", cfg.MaxPending, "ingest max pending")
	persist := fs.String("stream-persist", bus.PersistDefault, "stream persist mode")
	replicas := fs.Int("stream-replicas", 1, "stream replicas; above 1, on an embedded cluster of that many nodes")
	cpuprofile := fs.String("cpuprofile", "", "write the child's CPU profile to this file")
	if err := cli.Parse(fs, args, func(string) string { return "" }, envPrefix, stderr); err != nil {
		return err
	}
	if *dir == "" {
		return cli.Usagef("%s: --data: want a directory, got none", fs.Name())
	}
	stop, err := cpuProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		io.Copy(io.Discard, stdin)
		cancel()
	}()
	return loadgen.ServeIngestReplicas(ctx, stdout, *dir, cfg, *persist, *replicas)
}

// cpuProfile writes this process's CPU profile to path until stop is
// called; an empty path profiles nothing.
func cpuProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
