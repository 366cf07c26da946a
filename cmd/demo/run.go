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
	"net"
	"net/http"
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
	"github.com/cspwatch/cspwatch/internal/testkit/chserver"
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

	// ReportHTML is where the HTML report is written at the end ("":
	// not written); DashboardAddr is where the aggregator serves the
	// dashboard (a free port on its host when that one is taken).
	ReportHTML    string
	DashboardAddr string

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
		ReportHTML:    "cspwatch-report.html",
		DashboardAddr: "127.0.0.1:8082",
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
	if _, _, err := net.SplitHostPort(c.DashboardAddr); err != nil {
		return fmt.Errorf("--dashboard-addr: %v", err)
	}
	if c.ReportHTML != "" {
		// Checked now rather than after the run: the report is its last step.
		abs, err := filepath.Abs(c.ReportHTML)
		if err != nil {
			return fmt.Errorf("--report-html: %w", err)
		}
		if fi, err := os.Stat(filepath.Dir(abs)); err != nil || !fi.IsDir() {
			return fmt.Errorf("--report-html %s: no directory %s", c.ReportHTML, filepath.Dir(abs))
		}
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
	fs.BoolVar(&c.Keep, "keep", c.Keep, "keep the stack (ClickHouse, ingest, the aggregator and its dashboard) running after the summary until Ctrl-C, and the work directory (logs, data) after it")
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
	fs.StringVar(&c.ReportHTML, "report-html", c.ReportHTML, "file the HTML report (aggregator report --format html) is written to at the end; empty: none")
	fs.StringVar(&c.DashboardAddr, "dashboard-addr", c.DashboardAddr, "address of the aggregator's web dashboard (a free port on the same host when this one is taken; port 0: always a free one)")
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
	d := &demo{cfg: c, out: newConsole(stdout, getenv), getenv: getenv}
	defer func() {
		_ = d.out.End()
		if serr := d.stop(); err == nil {
			err = serr
		}
		if (err != nil || c.Keep) && d.work != "" {
			fmt.Fprintf(d.out, "demo: logs and data kept in %s\n", d.work)
		} else if d.work != "" && !c.Keep && c.Work == "" {
			_ = os.RemoveAll(d.work)
		}
	}()
	return d.run(ctx)
}

type demo struct {
	cfg    config
	out    *console
	getenv func(string) string
	work   string
	start  time.Time

	ch    *chserver.Server
	procs []*proc

	chAddr, natsURL, ingestURL, aggURL, dashURL string
	// reportPath is the HTML report's absolute path once written.
	reportPath string
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
	ms, err := d.spawn(ctx, "ingest", ingestArgs, regexp.MustCompile(`ingest listening on (\S+) nats (\S+)`))
	if err != nil {
		return err
	}
	d.ingestURL, d.natsURL = ms[0][1], strings.Split(ms[0][2], ",")[0]
	if c.NATSURL != "" {
		d.natsURL = c.NATSURL
	}
	if err := d.ready(ctx, d.ingestURL+"/readyz"); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	d.step("ingest ready at %s, NATS at %s", d.ingestURL, d.natsURL)

	// Aggregator with spike alerts; short buckets so a one-minute demo has
	// a baseline before the spike. It serves the dashboard too.
	bucket := c.AlertBucket.String()
	dashAddr, moved := dashboardAddr(c.DashboardAddr)
	if moved {
		d.step("dashboard: %s is taken; using a free port", c.DashboardAddr)
	}
	aggArgs := []string{"run", "--listen", "127.0.0.1:0", "--nats-url", d.natsURL,
		"--clickhouse-addr", d.chAddr, "--clickhouse-database", c.Database,
		"--batch-wait", "500ms", "--log-level", "warn",
		"--alert-bucket", bucket, "--dashboard-addr", dashAddr}
	aggArgs = append(aggArgs, alertDemoFlags(c)...)
	// It prints where it listens, then (once ClickHouse answers) where
	// the dashboard does.
	if ms, err = d.spawn(ctx, "aggregator", aggArgs, regexp.MustCompile(`aggregator listening on (\S+)`),
		regexp.MustCompile(`dashboard listening on (\S+)`)); err != nil {
		return err
	}
	d.aggURL, d.dashURL = ms[0][1], ms[1][1]
	if err := d.ready(ctx, d.aggURL+"/readyz"); err != nil {
		return fmt.Errorf("aggregator: %w", err)
	}
	d.step("aggregator ready (metrics at %s/metrics, dashboard at %s), spike detector on %s buckets", d.aggURL, d.dashURL, bucket)

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
	if err := d.runLoadgen(ctx, lg, os.Getenv("CSPWATCH_DEMO_QUIET") == ""); err != nil {
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

	// The dashboard's first page reads ClickHouse as the reports do: it is
	// fetched while they are printed, and its answer awaited after them.
	dctx, dcancel := context.WithCancel(ctx)
	defer dcancel()
	dashboard := make(chan error, 1)
	go func() { dashboard <- d.checkDashboard(dctx) }()

	chArgs := []string{"--clickhouse-addr", d.chAddr, "--clickhouse-database", c.Database}
	fmt.Fprintln(d.out, "\n=== aggregator report --since 1h ===")
	if err := d.runTool(ctx, "aggregator", append([]string{"report", "--since", "1h", "--tenant", c.Tenant}, chArgs...), true); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "\n=== aggregator alerts --since 1h ===")
	if err := d.runTool(ctx, "aggregator", append([]string{"alerts", "--since", "1h", "--tenant", c.Tenant}, chArgs...), true); err != nil {
		return err
	}
	fmt.Fprintln(d.out)

	// What people can keep: the report as one file, and the dashboard.
	if c.ReportHTML != "" {
		size, err := d.writeHTMLReport(ctx, append([]string{"report", "--since", "1h", "--tenant", c.Tenant, "--format", "html"}, chArgs...))
		if err != nil {
			return err
		}
		d.step("HTML report: %s (%.1f KB; open it in a browser)", d.reportPath, float64(size)/1024)
	}
	if err := <-dashboard; err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	d.step("dashboard: %s (answered 200 on /)", d.dashURL)
	if !c.Keep {
		d.step("done; stopping what the demo started (make demo DEMOFLAGS=--keep keeps it running)")
		return nil
	}
	return d.keepRunning(ctx)
}

// keepRunning prints where everything is and waits for Ctrl-C (ctx), or
// for a service to exit, which is an error.
func (d *demo) keepRunning(ctx context.Context) error {
	c := &d.cfg
	d.step("the stack keeps running (--keep); stop it with Ctrl-C (or kill -INT %d)", os.Getpid())
	rows := [][2]string{{"dashboard", d.dashURL}}
	if d.reportPath != "" {
		rows = append(rows, [2]string{"report", d.reportPath})
	}
	rows = append(rows,
		[2]string{"ingest", fmt.Sprintf("%s  (POST /v1/syncml/%s, signed with the secret in %s)", d.ingestURL, c.Tenant, filepath.Join(d.work, "credentials.json"))},
		[2]string{"aggregator", d.aggURL + "/metrics"},
		[2]string{"ClickHouse", fmt.Sprintf("%s  (native protocol, database %s)", d.chAddr, c.Database)},
		[2]string{"NATS", fmt.Sprintf("%s  (stream %s)", d.natsURL, bus.StreamName)},
		[2]string{"logs, data", d.work})
	for _, r := range rows {
		fmt.Fprintf(d.out, "    %-11s %s\n", r[0], r[1])
	}
	exited := make(chan *proc, len(d.procs))
	for _, p := range d.procs {
		go func() {
			<-p.done
			exited <- p
		}()
	}
	select {
	case <-ctx.Done():
		d.step("interrupted; stopping what the demo started")
		return nil
	case p := <-exited:
		return fmt.Errorf("%s (pid %d) exited while the stack was kept running: %v (see %s)",
			p.name, p.cmd.Process.Pid, p.err, filepath.Join(d.work, p.name+".log"))
	}
}

// dashboardAddr is addr, or a free port on its host when addr's port is
// taken (another dashboard, a demo kept running): moved says which.
func dashboardAddr(addr string) (string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "0" {
		return addr, false
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return net.JoinHostPort(host, "0"), true
	}
	ln.Close()
	return addr, false
}

// checkDashboard GETs the dashboard's overview until it answers 200 (its
// first page reads ClickHouse, so it is given time), within the demo's
// --wait.
func (d *demo) checkDashboard(ctx context.Context) error {
	deadline := time.Now().Add(d.cfg.Wait)
	for {
		err := d.getDashboard(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		if !sleep(ctx, 250*time.Millisecond) {
			return ctx.Err()
		}
	}
}

func (d *demo) getDashboard(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.dashURL, nil)
	if err != nil {
		return err
	}
	// The aggregator takes its token from the environment it inherits.
	if tok := d.getenv("CSPWATCH_DASHBOARD_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %q", d.dashURL, resp.Status, body)
	}
	return nil
}

// writeHTMLReport runs the aggregator with args (a report in html) into
// --report-html: into a temporary file beside it, renamed over it once
// complete, so the path never holds half a report. It returns the size.
func (d *demo) writeHTMLReport(ctx context.Context, args []string) (int64, error) {
	abs, err := filepath.Abs(d.cfg.ReportHTML)
	if err != nil {
		return 0, fmt.Errorf("report: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(abs), ".cspwatch-report-*.html")
	if err != nil {
		return 0, fmt.Errorf("report: %w", err)
	}
	defer os.Remove(f.Name()) // after the rename, nothing
	cmd := exec.CommandContext(ctx, filepath.Join(d.cfg.Bin, "aggregator"), args...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Stdout = f
	cmd.Stderr = &indent{w: d.out}
	err = cmd.Run()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("aggregator report --format html: %w", err)
	}
	fi, err := os.Stat(f.Name())
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), abs)
	}
	if err != nil {
		return 0, fmt.Errorf("report: %w", err)
	}
	d.reportPath = abs
	return fi.Size(), nil
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
// until each of listening has matched a line of its stdout (the lines that
// say where it listens, in any order). It returns each one's first match.
func (d *demo) spawn(ctx context.Context, name string, args []string, listening ...*regexp.Regexp) ([][]string, error) {
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
	// Only this goroutine reads the matches until it sends them, once.
	found := make(chan [][]string, 1)
	go func() {
		matches := make([][]string, len(listening))
		left := len(listening)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if left == 0 {
				continue
			}
			for i, re := range listening {
				if matches[i] != nil {
					continue
				}
				if m := re.FindStringSubmatch(sc.Text()); m != nil {
					matches[i] = m
					if left--; left == 0 {
						found <- matches
					}
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
		return nil, fmt.Errorf("%s: not every listening line within %s (see %s)", name, d.cfg.Wait, logf.Name())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// runTool runs a command to completion; its stdout (and, when show is set,
// its stderr) go to the demo's output, indented.
func (d *demo) runTool(ctx context.Context, name string, args []string, show bool) error {
	w := &indent{w: d.out}
	var stderr io.Writer = io.Discard
	if show {
		stderr = w
	}
	return d.exec(ctx, name, args, w, stderr)
}

// loadgenProgress is loadgen's progress line, which it writes to stderr
// each second: "  12.0s  4800 device msgs  4800 server msgs ...".
var loadgenProgress = regexp.MustCompile(`^\s*\d+(\.\d+)?s\s+\d+ device msgs\b`)

// runLoadgen runs loadgen like runTool, its progress lines shown as one
// line updated in place on a terminal.
func (d *demo) runLoadgen(ctx context.Context, args []string, show bool) error {
	if !show {
		return d.runTool(ctx, "loadgen", args, false)
	}
	pw := &progressWriter{c: d.out, indent: "    ", progress: loadgenProgress}
	err := d.exec(ctx, "loadgen", args, &indent{w: d.out}, pw)
	if ferr := pw.Flush(); err == nil {
		err = ferr
	}
	return err
}

func (d *demo) exec(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, filepath.Join(d.cfg.Bin, name), args...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil { // interrupted: say so, not "signal: killed"
			err = ctx.Err()
		}
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
