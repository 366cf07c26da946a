package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/internal/dashboard"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/output"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/peterbourgon/ff/v3/ffcli"
)

// The report's tables, by the name --table selects them with.
const (
	tableProducts = "products"
	tableCauses   = "causes"
	tableStuck    = "stuck"
)

// formatHTML is the report's own format beyond output's: one
// self-contained HTML page with charts (internal/dashboard). It is the
// report's alone, so output.Formats does not list it.
const formatHTML output.Format = "html"

// reportFormat is the --format flag of `aggregator report`: output's
// formats and html.
type reportFormat struct{ f *output.Format }

func (r reportFormat) String() string {
	if r.f == nil {
		return ""
	}
	return r.f.String()
}

func (r reportFormat) Set(s string) error {
	if strings.EqualFold(strings.TrimSpace(s), string(formatHTML)) {
		*r.f = formatHTML
		return nil
	}
	if err := r.f.Set(s); err != nil {
		return fmt.Errorf("want table, json, csv or html, got %q", s)
	}
	return nil
}

// reportConfig is the configuration of `aggregator report`.
type reportConfig struct {
	CH         chFlags
	Since      time.Duration
	Lookback   time.Duration
	Tenant     string
	StuckAfter time.Duration
	Top        int
	Format     output.Format
	// Table is the one table to print (tableProducts, tableCauses,
	// tableStuck); empty prints all three, except in CSV, which prints
	// products.
	Table string
}

func (c *reportConfig) Validate() error {
	switch {
	case c.Since <= 0:
		return fmt.Errorf("--since: want a positive duration such as 24h, got %v", c.Since)
	case c.Lookback <= 0:
		return fmt.Errorf("--lookback: want a positive duration such as 24h, got %v", c.Lookback)
	case c.StuckAfter <= 0:
		return fmt.Errorf("--stuck-after: want a positive duration such as 4h, got %v", c.StuckAfter)
	case c.Top < 1:
		return fmt.Errorf("--top: want an integer of at least 1, got %d", c.Top)
	}
	if c.Format == formatHTML {
		if c.Table != "" {
			return fmt.Errorf("--table %q: html holds every table", c.Table)
		}
	} else if err := c.Format.Validate(); err != nil {
		return err
	}
	switch c.Table {
	case "", tableProducts, tableCauses, tableStuck:
	default:
		return fmt.Errorf("--table: want products, causes or stuck, got %q", c.Table)
	}
	return c.CH.validate()
}

// reportHelp is the long help of `aggregator report -h`.
const reportHelp = `Prints the fleet's install attempts of the window (--since, up to now),
counted in devices and attempts, never in events:
  products  per product name and version: devices, and how many succeeded,
            failed or are still active by their latest attempt of the
            version; attempts and failed attempts; most failed devices first
  causes    the causes of failed attempts (0x80070643 and 1603 are one),
            with name, category and advice; most devices affected first
  stuck     attempts still active --stuck-after after their install
            command, with their age; oldest first

Formats: table (the default) prints the three tables for a terminal; json
prints one document with totals, products[], causes[] and stuck[]; csv
prints ONE table, products unless --table names another, with a header
line of column names. --table restricts the table format to one table too;
json always holds all three. html writes one self-contained page (inline
CSS and SVG charts, no script, no network) with the tables and charts of
products by failed devices and of install outcomes per hour (per day
beyond 14 days): aggregator report --format html > report.html

It only reads: it never creates the database nor writes to it.`

// reportFlags returns the defaults of `aggregator report` and its flag
// set, which writes into them.
func reportFlags() (*reportConfig, *flag.FlagSet) {
	c := &reportConfig{CH: defaultCHFlags(), Since: 24 * time.Hour, Lookback: store.DefaultReportLookback,
		StuckAfter: 4 * time.Hour, Top: 10, Format: output.FormatTable}
	fs := flag.NewFlagSet("aggregator report", flag.ContinueOnError)
	c.CH.register(fs, chRead)
	fs.DurationVar(&c.Since, "since", c.Since, "how far back the report looks")
	fs.DurationVar(&c.Lookback, "lookback", c.Lookback, "how much earlier events are read to find the install command of an attempt in the window")
	fs.StringVar(&c.Tenant, "tenant", c.Tenant, "only this tenant (all when empty)")
	fs.DurationVar(&c.StuckAfter, "stuck-after", c.StuckAfter, "list attempts still active this long after their install command")
	fs.IntVar(&c.Top, "top", c.Top, "causes and stuck attempts listed")
	fs.Var(reportFormat{&c.Format}, "format", "output format: table, json, csv or html")
	fs.StringVar(&c.Table, "table", c.Table, "print only this table: products, causes or stuck (csv prints products by default)")
	return c, fs
}

// parseReportConfig parses `aggregator report` alone: args, then
// CSPWATCH_*.
func parseReportConfig(args []string, getenv func(string) string, stderr io.Writer) (reportConfig, error) {
	c, fs := reportFlags()
	err := cli.ParseAlone(reportSpec(fs), args, getenv, stderr, c.Validate)
	return *c, err
}

func reportCommand(stdout, _ io.Writer) *ffcli.Command {
	c, fs := reportFlags()
	return cli.Leaf(reportSpec(fs), c.Validate, func(ctx context.Context) error { return report(ctx, *c, stdout) })
}

// report prints the fleet summary.
func report(ctx context.Context, c reportConfig, stdout io.Writer) error {
	st, err := c.CH.openReadOnly(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.FleetReport(ctx, store.ReportOptions{
		Now: time.Now(), Since: c.Since, Lookback: c.Lookback, Tenant: c.Tenant, StuckAfter: c.StuckAfter, Top: c.Top,
	})
	if err != nil {
		return err
	}
	if c.Format == formatHTML {
		return writeHTMLReport(ctx, st, stdout, rep, c.Tenant, time.Now())
	}
	return writeReport(stdout, rep, c.Tenant, c.Format, c.Table)
}

// writeHTMLReport writes rep as one HTML page, with its outcomes over
// time read from st over rep's own window (one more query).
func writeHTMLReport(ctx context.Context, st *store.Store, w io.Writer, rep store.Report, tenant string, now time.Time) error {
	step := dashboard.ReportStep(rep.To.Sub(rep.From))
	outcomes, err := st.OutcomesOverTime(ctx, store.ReportWindow(rep), store.AttemptFilter{Tenant: tenant}, step)
	if err != nil {
		return err
	}
	return dashboard.WriteReport(w, dashboard.Report{Report: rep, Tenant: tenant, Outcomes: outcomes, Step: step, Generated: now.UTC()})
}

// writeReport writes rep in format f: all its tables, or only the one
// named table (see reportConfig.Table).
func writeReport(w io.Writer, rep store.Report, tenant string, f output.Format, table string) error {
	switch f {
	case output.FormatJSON:
		return output.WriteJSON(w, reportDocument(rep, tenant))
	case output.FormatCSV:
		tables := reportTables(rep, tenant, false)
		if table == "" {
			table = tableProducts
		}
		for _, t := range tables {
			if t.Name == table {
				return output.WriteCSV(w, t)
			}
		}
		return fmt.Errorf("report: no table %q", table)
	case output.FormatTable:
		scope := "all tenants"
		if tenant != "" {
			scope = "tenant " + tenant
		}
		head := fmt.Sprintf("cspwatch fleet report, %s, %s to %s\n%d devices, %d install attempts (%d events)\n\n",
			scope, rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339), rep.Devices, rep.Attempts, rep.Events)
		if _, err := io.WriteString(w, head); err != nil {
			return err
		}
		var pick []*output.Table
		for _, t := range reportTables(rep, tenant, true) {
			if table == "" || t.Name == table {
				pick = append(pick, t)
			}
		}
		return output.WriteTables(w, pick...)
	}
	return f.Validate()
}

// reportTables are the report's three tables. For a terminal, the CSP is
// shortened (MSI) and a cause's products are prefixed with their tenant
// when the report spans tenants.
func reportTables(rep store.Report, tenant string, terminal bool) []*output.Table {
	csp := func(s string) string { return s }
	if terminal {
		csp = event.CSPLabel
	}
	products := output.NewTable(tableProducts,
		"Products by failed devices (each device counted once, by its latest attempt of the version)",
		"tenant", "csp", "product", "version", "devices", "succeeded", "failed", "active", "attempts",
		"failed_attempts", "target_id:TARGET")
	products.Empty = "no install attempt in the window"
	for _, p := range rep.Products {
		products.Add(p.Tenant, csp(p.CSP), p.Product, p.Version, p.Devices, p.Succeeded, p.Failed, p.Active,
			p.Attempts, p.FailedAttempts, p.TargetID)
	}

	causes := output.NewTable(tableCauses, "Causes of failed installs, by devices still failing",
		"code", "code_hex:HEX", "code_space:SPACE", "name", "category", "devices", "attempts",
		"products:MOST HIT (DEVICES)", "advice")
	causes.Empty = "no failed attempt"
	for _, c := range rep.Causes {
		causes.Add(c.Code, c.CodeHex, c.Space, c.Name, c.Category, c.Devices, c.Attempts,
			mostHit(c.Products, terminal && tenant == ""), c.Advice)
	}

	stuck := output.NewTable(tableStuck, fmt.Sprintf("Attempts still active %s after their install command, oldest first", output.ShortDuration(rep.StuckAfter)),
		"tenant", "device_id:DEVICE", "csp", "product", "version", "outcome:STATE", "age_seconds:AGE",
		"since:REQUESTED", "last_seen", "retries", "target_id:TARGET")
	stuck.Empty = "none"
	for _, d := range rep.Stuck {
		stuck.Add(d.Tenant, d.DeviceID, csp(d.CSP), d.Product, d.Version, d.Outcome, d.Age, d.RequestedAt,
			d.LastSeen, d.Retries, d.TargetID)
	}
	return []*output.Table{products, causes, stuck}
}

// mostHit lists the product versions a cause hit most: "App A 1.0 (12),
// PB (unknown product) (3)", in devices, each prefixed with its tenant when
// withTenant.
func mostHit(ps []store.CauseProduct, withTenant bool) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		if withTenant {
			b.WriteString(p.Tenant + ": ")
		}
		b.WriteString(p.Product)
		if p.Version != "" {
			b.WriteString(" " + p.Version)
		}
		fmt.Fprintf(&b, " (%d)", p.Devices)
	}
	return b.String()
}

// reportJSON is the report's JSON document. Keys are stable: fields are
// added, never renamed. Times are RFC 3339 in UTC, durations in seconds,
// and every list is present (empty rather than null).
type reportJSON struct {
	// Tenant is the tenant reported on, empty for all.
	Tenant            string        `json:"tenant"`
	From              time.Time     `json:"from"`
	To                time.Time     `json:"to"`
	LookbackSeconds   int64         `json:"lookback_seconds"`
	StuckAfterSeconds int64         `json:"stuck_after_seconds"`
	Totals            totalsJSON    `json:"totals"`
	Products          []productJSON `json:"products"`
	Causes            []causeJSON   `json:"causes"`
	Stuck             []stuckJSON   `json:"stuck"`
}

type totalsJSON struct {
	Devices  uint64 `json:"devices"`
	Attempts uint64 `json:"attempts"`
	// Events is secondary: one failed MSI install is three events.
	Events uint64 `json:"events"`
}

type productJSON struct {
	Tenant         string `json:"tenant"`
	CSP            string `json:"csp"`
	Name           string `json:"name"`
	Version        string `json:"version"`
	TargetID       string `json:"target_id"`
	Devices        uint64 `json:"devices"`
	Succeeded      uint64 `json:"succeeded"`
	Failed         uint64 `json:"failed"`
	Active         uint64 `json:"active"`
	Attempts       uint64 `json:"attempts"`
	FailedAttempts uint64 `json:"failed_attempts"`
}

type causeJSON struct {
	CodeSpace string             `json:"code_space"`
	Code      int64              `json:"code"`
	CodeHex   string             `json:"code_hex"`
	Name      string             `json:"name"`
	Category  string             `json:"category"`
	Advice    string             `json:"advice"`
	Source    string             `json:"source"`
	Devices   uint64             `json:"devices"`
	Attempts  uint64             `json:"attempts"`
	Products  []causeProductJSON `json:"products"`
}

type causeProductJSON struct {
	Tenant   string `json:"tenant"`
	CSP      string `json:"csp"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	TargetID string `json:"target_id"`
	Devices  uint64 `json:"devices"`
	Attempts uint64 `json:"attempts"`
}

type stuckJSON struct {
	Tenant     string    `json:"tenant"`
	DeviceID   string    `json:"device_id"`
	Scope      string    `json:"scope"`
	CSP        string    `json:"csp"`
	TargetID   string    `json:"target_id"`
	AttemptID  string    `json:"attempt_id"`
	Product    string    `json:"product"`
	Version    string    `json:"version"`
	Outcome    string    `json:"outcome"`
	HasCommand bool      `json:"has_command"`
	Since      time.Time `json:"since"`
	LastSeen   time.Time `json:"last_seen"`
	AgeSeconds int64     `json:"age_seconds"`
	Retries    uint64    `json:"retries"`
}

// reportDocument is rep as its JSON document.
func reportDocument(rep store.Report, tenant string) reportJSON {
	doc := reportJSON{
		Tenant: tenant, From: rep.From.UTC(), To: rep.To.UTC(),
		LookbackSeconds: wholeSeconds(rep.Lookback), StuckAfterSeconds: wholeSeconds(rep.StuckAfter),
		Totals:   totalsJSON{Devices: rep.Devices, Attempts: rep.Attempts, Events: rep.Events},
		Products: []productJSON{}, Causes: []causeJSON{}, Stuck: []stuckJSON{},
	}
	for _, p := range rep.Products {
		doc.Products = append(doc.Products, productJSON{Tenant: p.Tenant, CSP: p.CSP, Name: p.Product, Version: p.Version,
			TargetID: p.TargetID, Devices: p.Devices, Succeeded: p.Succeeded, Failed: p.Failed, Active: p.Active,
			Attempts: p.Attempts, FailedAttempts: p.FailedAttempts})
	}
	for _, c := range rep.Causes {
		cj := causeJSON{CodeSpace: c.Space, Code: c.Code, CodeHex: c.CodeHex, Name: c.Name, Category: c.Category,
			Advice: c.Advice, Source: c.Source, Devices: c.Devices, Attempts: c.Attempts, Products: []causeProductJSON{}}
		for _, p := range c.Products {
			cj.Products = append(cj.Products, causeProductJSON{Tenant: p.Tenant, CSP: p.CSP, Name: p.Product,
				Version: p.Version, TargetID: p.TargetID, Devices: p.Devices, Attempts: p.Attempts})
		}
		doc.Causes = append(doc.Causes, cj)
	}
	for _, d := range rep.Stuck {
		doc.Stuck = append(doc.Stuck, stuckJSON{Tenant: d.Tenant, DeviceID: d.DeviceID, Scope: d.Scope, CSP: d.CSP,
			TargetID: d.TargetID, AttemptID: d.AttemptID, Product: d.Product, Version: d.Version, Outcome: d.Outcome,
			HasCommand: d.HasCommand, Since: d.RequestedAt.UTC(), LastSeen: d.LastSeen.UTC(),
			AgeSeconds: wholeSeconds(d.Age), Retries: d.Retries})
	}
	return doc
}

// wholeSeconds is d in whole seconds, rounded.
func wholeSeconds(d time.Duration) int64 { return int64(d.Round(time.Second) / time.Second) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// openExisting connects to ClickHouse to write into a database that must
// exist (catalog load): a wrong --clickhouse-database is an error rather
// than a new, empty database.
func (c *chFlags) openExisting(ctx context.Context) (*store.Store, error) {
	cfg := c.config()
	cfg.CreateDatabase = false
	return store.Open(ctx, cfg)
}

// openReadOnly connects to ClickHouse for the commands that only read
// (report, alerts, sql run, catalog list), as the dashboard does: never
// creating the database, and on a connection the server keeps read-only
// (store.OpenReadOnly), so that "read-only" is enforced, not promised.
func (c *chFlags) openReadOnly(ctx context.Context) (*store.Store, error) {
	return store.OpenReadOnly(ctx, c.config())
}

// reportSpec describes the command whose flags fs holds.
func reportSpec(fs *flag.FlagSet) *ffcli.Command {
	return &ffcli.Command{
		Name:       "report",
		ShortUsage: "aggregator report [--since 24h] [--tenant T] [--format table|json|csv|html] [--table products|causes|stuck] [flags]",
		ShortHelp:  "print the fleet summary from ClickHouse (--format html: one page with charts)",
		LongHelp:   reportHelp,
		FlagSet:    fs,
	}
}
