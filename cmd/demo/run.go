package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/chserver"
	"github.com/cspwatch/cspwatch/internal/envflag"
	"github.com/cspwatch/cspwatch/internal/probe"
)

// errUsage marks an error in the command line; it exits with status 2.
var errUsage = envflag.ErrUsage

func exitCode(err error) int {
	if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// config is what one demo run does. Every field has a flag and a
// CSPWATCH_DEMO_<FLAG> environment override; the ClickHouse and NATS
// addresses also take the services' own CSPWATCH_CLICKHOUSE_ADDR and
// CSPWATCH_NATS_URL, so a demo can run against existing servers.
type config struct {
	Bin      string
	Work     string
	Keep     bool
	Tenant   string
	Devices  int
	Seed     int64
	Duration time.Duration
	Rate     float64
	Workers  int
	Commands bool

	SpikeProduct  string
	SpikeVersion  string
	SpikeCode     int64
	SpikeAt       float64
	SpikeFraction float64

	AlertBucket time.Duration
	Wait        time.Duration

	ClickHouseAddr string
	Database       string
	NATSURL        string
}

func defaultConfig() config {
	bin := "bin"
	if exe, err := os.Executable(); err == nil {
		bin = filepath.Dir(exe)
	}
	return config{
		Bin:           bin,
		Tenant:        "contoso",
		Devices:       5000,
		Seed:          1,
		Duration:      60 * time.Second,
		Rate:          400,
		Workers:       8,
		Commands:      true,
		SpikeProduct:  "Google Chrome",
		SpikeCode:     1603,
		SpikeAt:       0.4,
		SpikeFraction: 0.6,
		AlertBucket:   5 * time.Second,
		Wait:          45 * time.Second,
		Database:      "cspwatch",
	}
}

// Validate reports the first unusable setting.
func (c *config) Validate() error {
	switch {
	case c.Devices < 10:
		return errors.New("--devices: want at least 10")
	case c.Duration < 10*time.Second:
		return errors.New("--duration: want at least 10s (the detector needs a baseline before the spike)")
	case c.Rate <= 0:
		return errors.New("--rate: want positive")
	case c.SpikeAt <= 0 || c.SpikeAt >= 1:
		return errors.New("--spike-at: want a fraction of the run in (0, 1)")
	case c.SpikeFraction <= 0 || c.SpikeFraction > 1:
		return errors.New("--spike-fraction: want (0, 1]")
	case c.AlertBucket < time.Second:
		return errors.New("--alert-bucket: want at least 1s")
	case c.Wait <= 0:
		return errors.New("--wait: want positive")
	case c.Tenant == "":
		return errors.New("--tenant: empty")
	}
	for _, b := range []string{"ingest", "aggregator", "loadgen"} {
		if _, err := os.Stat(filepath.Join(c.Bin, b)); err != nil {
			return fmt.Errorf("--bin %s: %w (run make build)", c.Bin, err)
		}
	}
	return nil
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	c := defaultConfig()
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Bin, "bin", c.Bin, "directory holding the ingest, aggregator and loadgen binaries")
	fs.StringVar(&c.Work, "work", c.Work, "directory for data and logs (default: a new temporary one, removed at the end)")
	fs.BoolVar(&c.Keep, "keep", c.Keep, "keep the work directory (logs, data) after the run")
	fs.StringVar(&c.Tenant, "tenant", c.Tenant, "tenant of the synthetic fleet")
	fs.IntVar(&c.Devices, "devices", c.Devices, "devices in the synthetic fleet")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "seed of the synthetic fleet")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "how long the fleet sends")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "device messages per second")
	fs.IntVar(&c.Workers, "workers", c.Workers, "concurrent webhook clients")
	fs.BoolVar(&c.Commands, "commands", c.Commands, "also send the server's messages the devices answer (install commands) to ingest's /v1/syncml/commands")
	fs.StringVar(&c.SpikeProduct, "spike-product", c.SpikeProduct, "MSI product whose newest version fails in the spike")
	fs.StringVar(&c.SpikeVersion, "spike-version", c.SpikeVersion, "that product's failing version (default its newest)")
	fs.Int64Var(&c.SpikeCode, "spike-code", c.SpikeCode, "the spike's failure code")
	fs.Float64Var(&c.SpikeAt, "spike-at", c.SpikeAt, "when the spike starts, as a fraction of --duration")
	fs.Float64Var(&c.SpikeFraction, "spike-fraction", c.SpikeFraction, "fraction of the devices whose install fails in the spike")
	fs.DurationVar(&c.AlertBucket, "alert-bucket", c.AlertBucket, "spike detector bucket (production default 1m; short here so the demo is short)")
	fs.DurationVar(&c.Wait, "wait", c.Wait, "longest wait for the pipeline to drain and the alert to fire after sending ends")
	fs.StringVar(&c.ClickHouseAddr, "clickhouse-addr", c.ClickHouseAddr, "existing ClickHouse (native protocol host:port); empty starts Debian's clickhouse-server on a temporary directory")
	fs.StringVar(&c.Database, "clickhouse-database", c.Database, "ClickHouse database")
	fs.StringVar(&c.NATSURL, "nats-url", c.NATSURL, "existing NATS with JetStream; empty lets ingest embed one")
	// The demo's own variables first, then the services' names for the
	// servers it should use instead of starting its own.
	if err := envflag.Parse(fs, args, getenv, "CSPWATCH_DEMO_"); err != nil {
		return c, err
	}
	if err := envflag.Apply(fs, getenv, "CSPWATCH_", "clickhouse-addr", "clickhouse-database", "nats-url"); err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	return c, nil
}

// Main runs the demo. It returns only after every process it started has
// stopped; an error means a step did not happen (the work directory is then
// kept, and named, so its logs can be read).
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	c, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	d := &demo{cfg: c, out: stdout, getenv: getenv}
	defer func() {
		if serr := d.stop(); err == nil {
			err = serr
		}
		if err != nil && d.work != "" {
			fmt.Fprintf(stdout, "demo: logs and data kept in %s\n", d.work)
		} else if d.work != "" && !c.Keep && c.Work == "" {
			_ = os.RemoveAll(d.work)
		}
	}()
	return d.run(ctx)
}

type demo struct {
	cfg    config
	out    io.Writer
	getenv func(string) string
	work   string
	start  time.Time

	ch    *chserver.Server
	procs []*proc

	chAddr, natsURL, ingestURL, aggURL string
}

func (d *demo) step(format string, a ...any) {
	fmt.Fprintf(d.out, "[%5.1fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, a...))
}

func (d *demo) run(ctx context.Context) error {
	c := &d.cfg
	d.start = time.Now()
	work := c.Work
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "cspwatch-demo-"); err != nil {
			return fmt.Errorf("work directory: %w", err)
		}
	} else if err := os.MkdirAll(work, 0o750); err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	d.work = work

	// ClickHouse.
	d.chAddr = c.ClickHouseAddr
	if d.chAddr == "" {
		bin, err := chserver.Binary("")
		if err != nil {
			return fmt.Errorf("clickhouse: %w (make demo installs Debian's clickhouse-server; or set CSPWATCH_CLICKHOUSE_ADDR)", err)
		}
		dir := filepath.Join(work, "clickhouse")
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("clickhouse: %w", err)
		}
		if d.ch, err = chserver.Launch(bin, dir); err != nil {
			return fmt.Errorf("clickhouse: %w", err)
		}
		d.chAddr = d.ch.Addr
		d.step("clickhouse-server started on %s (data in %s)", d.chAddr, dir)
	} else {
		d.step("using ClickHouse at %s", d.chAddr)
	}

	// Ingest, with its embedded NATS unless one is given.
	secret := make([]byte, 24)
	_, _ = rand.Read(secret)
	whsec := "whsec_" + base64.StdEncoding.EncodeToString(secret)
	creds := filepath.Join(work, "credentials.json")
	if err := os.WriteFile(creds, []byte(`{"tenants":[{"name":"`+c.Tenant+`","secrets":["`+whsec+`"]}]}`), 0o600); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	ingestArgs := []string{"serve", "--listen", "127.0.0.1:0", "--credentials", creds, "--log-level", "warn"}
	if c.NATSURL != "" {
		ingestArgs = append(ingestArgs, "--nats-url", c.NATSURL)
	} else {
		ingestArgs = append(ingestArgs, "--nats-listen", "127.0.0.1:0", "--nats-data", filepath.Join(work, "nats"))
	}
	m, err := d.spawn(ctx, "ingest", ingestArgs, regexp.MustCompile(`ingest listening on (\S+) nats (\S+)`))
	if err != nil {
		return err
	}
	d.ingestURL, d.natsURL = m[1], strings.Split(m[2], ",")[0]
	if c.NATSURL != "" {
		d.natsURL = c.NATSURL
	}
	if err := d.ready(ctx, d.ingestURL+"/readyz"); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	d.step("ingest ready at %s, NATS at %s", d.ingestURL, d.natsURL)

	// Aggregator with spike alerts; short buckets so a one-minute demo has
	// a baseline before the spike.
	bucket := c.AlertBucket.String()
	aggArgs := []string{"run", "--listen", "127.0.0.1:0", "--nats-url", d.natsURL,
		"--clickhouse-addr", d.chAddr, "--clickhouse-database", c.Database,
		"--batch-wait", "500ms", "--log-level", "warn",
		"--alert-bucket", bucket}
	aggArgs = append(aggArgs, alertDemoFlags(c)...)
	if m, err = d.spawn(ctx, "aggregator", aggArgs, regexp.MustCompile(`aggregator listening on (\S+)`)); err != nil {
		return err
	}
	d.aggURL = m[1]
	if err := d.ready(ctx, d.aggURL+"/readyz"); err != nil {
		return fmt.Errorf("aggregator: %w", err)
	}
	d.step("aggregator ready (metrics at %s/metrics), spike detector on %s buckets", d.aggURL, bucket)

	// The fleet.
	spikeAt := int(float64(c.Rate) * c.Duration.Seconds() * c.SpikeAt)
	conversation := ""
	if c.Commands {
		conversation = ", each with the server message it answers"
	}
	d.step("replaying %d devices for %s at %.0f device messages/s%s; %d spike on %s from device message %d (~%.0fs)",
		c.Devices, c.Duration, c.Rate, conversation, c.SpikeCode, c.SpikeProduct, spikeAt, c.Duration.Seconds()*c.SpikeAt)
	lg := []string{"run", "--url", d.ingestURL, "--tenant", c.Tenant, "--secret", whsec,
		"--devices", strconv.Itoa(c.Devices), "--seed", strconv.FormatInt(c.Seed, 10),
		"--rate", strconv.FormatFloat(c.Rate, 'f', -1, 64), "--duration", c.Duration.String(),
		"--workers", strconv.Itoa(c.Workers), "--commands=" + strconv.FormatBool(c.Commands),
		"--spike-product", c.SpikeProduct, "--spike-code", strconv.FormatInt(c.SpikeCode, 10),
		"--spike-at", strconv.Itoa(spikeAt), "--spike-fraction", strconv.FormatFloat(c.SpikeFraction, 'f', -1, 64)}
	if c.SpikeVersion != "" {
		lg = append(lg, "--spike-version", c.SpikeVersion)
	}
	if err := d.runTool(ctx, "loadgen", lg, os.Getenv("CSPWATCH_DEMO_QUIET") == ""); err != nil {
		return err
	}

	// Drain: every event on the stream is in ClickHouse.
	conn, err := d.clickhouse()
	if err != nil {
		return err
	}
	defer conn.Close()
	published, err := d.streamCount(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(c.Wait)
	var rows uint64
	for {
		if err := conn.QueryRow(ctx, "SELECT count() FROM install_events FINAL").Scan(&rows); err != nil {
			return fmt.Errorf("clickhouse count: %w", err)
		}
		if rows >= published {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("aggregator: %d of %d events in ClickHouse after %s", rows, published, c.Wait)
		}
		if !sleep(ctx, 250*time.Millisecond) {
			return ctx.Err()
		}
	}
	d.step("all %d events on the stream are in ClickHouse (%d rows)", published, rows)

	// The spike alert.
	var firing uint64
	for {
		if err := conn.QueryRow(ctx, "SELECT count() FROM alerts WHERE status = 'firing'").Scan(&firing); err != nil {
			return fmt.Errorf("clickhouse alerts: %w", err)
		}
		if firing > 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no spike alert fired within %s of the end", c.Wait)
		}
		if !sleep(ctx, 250*time.Millisecond) {
			return ctx.Err()
		}
	}
	d.step("%d spike alert(s) fired", firing)

	chArgs := []string{"--clickhouse-addr", d.chAddr, "--clickhouse-database", c.Database}
	fmt.Fprintln(d.out, "\n=== aggregator report --since 1h ===")
	if err := d.runTool(ctx, "aggregator", append([]string{"report", "--since", "1h", "--tenant", c.Tenant}, chArgs...), true); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "\n=== aggregator alerts --since 1h ===")
	if err := d.runTool(ctx, "aggregator", append([]string{"alerts", "--since", "1h", "--tenant", c.Tenant}, chArgs...), true); err != nil {
		return err
	}
	d.step("done; stopping what the demo started")
	return nil
}

// alertDemoFlags shortens the detector's windows to the demo's length.
func alertDemoFlags(c *config) []string {
	b := c.AlertBucket
	return []string{"--alert-lateness", (b / 2).String(), "--alert-warm-up", (4 * b).String(),
		"--alert-cooldown", (2 * b).String(), "--alert-half-life", (12 * b).String()}
}

func (d *demo) clickhouse() (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:     []string{d.chAddr},
		Protocol: clickhouse.Native,
		Auth: clickhouse.Auth{Database: d.cfg.Database, Username: envDefault(d.getenv, "CSPWATCH_CLICKHOUSE_USER", "default"),
			Password: d.getenv("CSPWATCH_CLICKHOUSE_PASSWORD")},
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	return conn, nil
}

func (d *demo) streamCount(ctx context.Context) (uint64, error) {
	nc, err := nats.Connect(d.natsURL, nats.Name("cspwatch-demo"))
	if err != nil {
		return 0, fmt.Errorf("nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, fmt.Errorf("nats: %w", err)
	}
	st, err := js.Stream(ctx, bus.StreamName)
	if err != nil {
		return 0, fmt.Errorf("nats stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("nats stream: %w", err)
	}
	return info.State.Msgs, nil
}

func (d *demo) ready(ctx context.Context, url string) error {
	deadline := time.Now().Add(d.cfg.Wait)
	for {
		err := probe.Check(ctx, url, 2*time.Second)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// proc is a service the demo started and stops.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// spawn starts a long-running service, logging to WORK/NAME.log, and waits
// for the line of its stdout that says where it listens.
func (d *demo) spawn(ctx context.Context, name string, args []string, listening *regexp.Regexp) ([]string, error) {
	logf, err := os.Create(filepath.Join(d.work, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cmd := exec.Command(filepath.Join(d.cfg.Bin, name), args...)
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	d.procs = append(d.procs, p)
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m:
				default:
				}
			}
		}
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	d.step("%s started (pid %d, log %s)", name, cmd.Process.Pid, logf.Name())
	select {
	case m := <-found:
		return m, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited at start: %v (see %s)", name, p.err, logf.Name())
	case <-time.After(d.cfg.Wait):
		return nil, fmt.Errorf("%s: no listening line within %s (see %s)", name, d.cfg.Wait, logf.Name())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// runTool runs a command to completion; its stdout (and, when show is set,
// its stderr) go to the demo's output, indented.
func (d *demo) runTool(ctx context.Context, name string, args []string, show bool) error {
	cmd := exec.CommandContext(ctx, filepath.Join(d.cfg.Bin, name), args...)
	cmd.SysProcAttr = sysProcAttr()
	w := &indent{w: d.out}
	cmd.Stdout = w
	if show {
		cmd.Stderr = w
	} else {
		cmd.Stderr = io.Discard
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, args[0], err)
	}
	return nil
}

// stop ends the services in reverse order of start (aggregator first, so it
// flushes its open batch while NATS is still there), then ClickHouse.
func (d *demo) stop() error {
	var errs []error
	for i := len(d.procs) - 1; i >= 0; i-- {
		p := d.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			if p.err != nil {
				errs = append(errs, fmt.Errorf("%s (pid %d) exited: %w", p.name, p.cmd.Process.Pid, p.err))
			}
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			errs = append(errs, fmt.Errorf("%s (pid %d) did not stop within 30s of SIGTERM; killed", p.name, p.cmd.Process.Pid))
		}
	}
	d.procs = nil
	if d.ch != nil {
		d.ch.Stop()
		d.ch = nil
	}
	return errors.Join(errs...)
}

// indent prefixes every line written through it, so tool output stands
// apart from the demo's own lines.
type indent struct {
	mu  sync.Mutex
	w   io.Writer
	mid bool
}

func (w *indent) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line == "" {
			continue
		}
		if !w.mid {
			if _, err := io.WriteString(w.w, "    "); err != nil {
				return 0, err
			}
		}
		if _, err := io.WriteString(w.w, line); err != nil {
			return 0, err
		}
		w.mid = !strings.HasSuffix(line, "\n")
	}
	return len(p), nil
}

func envDefault(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
