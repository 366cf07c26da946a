package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
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
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/internal/testkit/chserver"
)

// Main runs the demo. It returns only after every process it started has
// stopped; an error means a step did not happen (the work directory is then
// kept, and named, so its logs can be read).
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, fs := configFlags()
	app := cli.App{
		Root: &ffcli.Command{
			Name:       "demo",
			ShortUsage: "demo [flags]",
			LongHelp: `Runs the whole pipeline on one machine, as make demo does: a throwaway
ClickHouse (unless --clickhouse-addr), ingest with its embedded NATS (unless
--nats-url), the aggregator with spike alerts and its dashboard, and the
load generator replaying a synthetic fleet with an injected 1603 spike;
then the fleet report and the spike alert.`,
			FlagSet: fs,
			Exec: func(ctx context.Context, args []string) error {
				if err := cli.NoArgs(fs, args); err != nil {
					return err
				}
				if err := c.finish(fs, getenv); err != nil {
					return err
				}
				return runDemo(ctx, *c, getenv, stdout)
			},
		},
		EnvPrefix: envPrefix,
		Getenv:    getenv,
		Environ:   os.Environ,
		Stdout:    stdout,
		Stderr:    stderr,
	}
	return app.Run(ctx, args)
}

// runDemo runs the demo of c, then stops what it started.
func runDemo(ctx context.Context, c config, getenv func(string) string, stdout io.Writer) (err error) {
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
	if err := d.runLoadgen(ctx, lg, !c.Quiet); err != nil {
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
	err = retry(ctx, deadline, func() error {
		if err := conn.QueryRow(ctx, "SELECT count() FROM install_events FINAL").Scan(&rows); err != nil {
			return backoff.Permanent(fmt.Errorf("clickhouse count: %w", err))
		}
		if rows < published {
			return fmt.Errorf("aggregator: %d of %d events in ClickHouse after %s", rows, published, c.Wait)
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.step("all %d events on the stream are in ClickHouse (%d rows)", published, rows)

	// The spike alert.
	var firing uint64
	err = retry(ctx, deadline, func() error {
		if err := conn.QueryRow(ctx, "SELECT count() FROM alerts WHERE status = 'firing'").Scan(&firing); err != nil {
			return backoff.Permanent(fmt.Errorf("clickhouse alerts: %w", err))
		}
		if firing == 0 {
			return fmt.Errorf("no spike alert fired within %s of the end", c.Wait)
		}
		return nil
	})
	if err != nil {
		return err
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
	return retry(ctx, time.Now().Add(d.cfg.Wait), func() error { return d.getDashboard(ctx) })
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
	nf := bus.ClientFlags{Conn: bus.DefaultConnConfig(), ConnectTimeout: 10 * time.Second}
	nf.Conn.URL, nf.Conn.Name = d.natsURL, "cspwatch-demo"
	nc, err := nf.Connect(ctx)
	if err != nil {
		return 0, err
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

func envDefault(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
