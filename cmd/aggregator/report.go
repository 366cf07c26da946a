package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/store"
)

// reportConfig is the configuration of `aggregator report`.
type reportConfig struct {
	CH         chFlags
	Since      time.Duration
	Tenant     string
	StuckAfter time.Duration
	Top        int
}

func (c *reportConfig) Validate() error {
	switch {
	case c.Since <= 0:
		return fmt.Errorf("since %v: must be positive", c.Since)
	case c.StuckAfter <= 0:
		return fmt.Errorf("stuck-after %v: must be positive", c.StuckAfter)
	case c.Top < 1:
		return fmt.Errorf("top %d: must be at least 1", c.Top)
	}
	cfg := c.CH.config()
	return cfg.Validate()
}

func parseReportConfig(args []string, getenv func(string) string, stderr io.Writer) (reportConfig, error) {
	c := reportConfig{CH: defaultCHFlags(), Since: 24 * time.Hour, StuckAfter: 4 * time.Hour, Top: 10}
	fs := flag.NewFlagSet("aggregator report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.CH.register(fs)
	fs.DurationVar(&c.Since, "since", c.Since, "how far back the report looks")
	fs.StringVar(&c.Tenant, "tenant", c.Tenant, "only this tenant (all when empty)")
	fs.DurationVar(&c.StuckAfter, "stuck-after", c.StuckAfter, "list devices in progress for longer than this")
	fs.IntVar(&c.Top, "top", c.Top, "failure codes and stuck devices listed")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: aggregator report [--since 24h] [--tenant T] [flags]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, getenv); err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	return c, nil
}

// report prints the fleet summary.
func report(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseReportConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	st, err := c.CH.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.FleetReport(ctx, store.ReportOptions{
		Now: time.Now(), Since: c.Since, Tenant: c.Tenant, StuckAfter: c.StuckAfter, Top: c.Top,
	})
	if err != nil {
		return err
	}
	return writeReport(stdout, rep, c.Tenant, c.StuckAfter)
}

// writeReport renders rep for a terminal.
func writeReport(w io.Writer, rep store.Report, tenant string, stuckAfter time.Duration) error {
	scope := "all tenants"
	if tenant != "" {
		scope = "tenant " + tenant
	}
	fmt.Fprintf(w, "cspwatch fleet report, %s, %s to %s\n", scope, rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339))
	fmt.Fprintf(w, "%d events from %d devices\n\n", rep.Events, rep.Devices)

	fmt.Fprintln(w, "Success rate per product and version (latest state of each device)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tCSP\tPRODUCT\tVERSION\tDEVICES\tSUCCEEDED\tFAILED\tIN PROGRESS\tSUCCESS RATE")
	for _, p := range rep.Products {
		rate := "-"
		if r := p.SuccessRate(); r >= 0 {
			rate = fmt.Sprintf("%.1f%%", 100*r)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", p.Tenant, cspShort(p.CSP), p.Product, dash(p.Version),
			p.Devices, p.Succeeded, p.Failed, p.Active, rate)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nTop failure codes")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tSPACE\tNAME\tCATEGORY\tEVENTS\tDEVICES\tPRODUCTS\tMOST HIT (EVENTS)")
	for _, f := range rep.FailureCodes {
		info := codes.Classify(codes.Space(f.CodeSpace), f.Code)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", codeText(f.Code), dash(f.CodeSpace), dash(info.Name),
			dash(string(info.Category)), f.Events, f.Devices, f.Products, dash(mostHit(f.TopProducts, tenant == "")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nDevices in progress for more than %s\n", stuckAfter)
	if len(rep.Stuck) == 0 {
		fmt.Fprintln(w, "none")
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tDEVICE\tCSP\tPRODUCT\tVERSION\tSTATE\tCODE\tSINCE\tFOR")
	for _, d := range rep.Stuck {
		prod := d.Product
		if prod == "" {
			prod = store.UnknownLabel(d.TargetID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.Tenant, d.DeviceID, cspShort(d.CSP), prod, dash(d.Version),
			d.Outcome, d.Code, d.Since.Format(time.RFC3339), rep.To.Sub(d.Since).Truncate(time.Minute))
	}
	return tw.Flush()
}

// mostHit lists the products a failure code hit most: "App A 1.0 (12),
// PB (unknown product) (3)", each prefixed with its tenant when the report
// spans tenants.
func mostHit(ps []store.CodeProduct, withTenant bool) string {
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
		fmt.Fprintf(&b, " (%d)", p.Events)
	}
	return b.String()
}

func cspShort(csp string) string {
	switch csp {
	case "EnterpriseDesktopAppManagement":
		return "MSI"
	case "":
		return "-"
	}
	return csp
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// codeText prints HRESULTs in hex, the way administrators search for them.
func codeText(code int64) string {
	if codes.IsHRESULT(code) {
		return string(codes.AppendHex(nil, code))
	}
	return fmt.Sprint(code)
}

// openExisting connects to ClickHouse for reading: the commands that only
// read never create the database, so a wrong --clickhouse-database is an
// error rather than an empty report.
func (c *chFlags) openExisting(ctx context.Context) (*store.Store, error) {
	cfg := c.config()
	cfg.CreateDatabase = false
	return store.Open(ctx, cfg)
}
