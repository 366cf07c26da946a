package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/internal/output"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/peterbourgon/ff/v3/ffcli"
)

// alertsConfig is the configuration of `aggregator alerts`.
type alertsConfig struct {
	CH     chFlags
	Since  time.Duration
	Tenant string
	Format output.Format
}

// alertsFlags returns the defaults of `aggregator alerts` and its flag
// set, which writes into them.
func alertsFlags() (*alertsConfig, *flag.FlagSet) {
	c := &alertsConfig{CH: defaultCHFlags(), Since: 24 * time.Hour, Format: output.FormatTable}
	fs := flag.NewFlagSet("aggregator alerts", flag.ContinueOnError)
	c.CH.register(fs, chRead)
	fs.DurationVar(&c.Since, "since", c.Since, "list the alerts with a transition this recent")
	fs.StringVar(&c.Tenant, "tenant", c.Tenant, "only this tenant (all when empty)")
	fs.Var(&c.Format, "format", output.FormatUsage)
	return c, fs
}

// Validate reports the first unusable setting, naming its flag.
func (c *alertsConfig) Validate() error {
	if c.Since <= 0 {
		return fmt.Errorf("--since: want a positive duration such as 24h, got %v", c.Since)
	}
	return c.CH.validate()
}

func alertsCommand(stdout, _ io.Writer) *ffcli.Command {
	c, fs := alertsFlags()
	return cli.Leaf(alertsSpec(fs), c.Validate, func(ctx context.Context) error { return listAlerts(ctx, *c, stdout) })
}

// listAlerts prints the spike alerts of the ClickHouse alerts table in the
// format asked for.
func listAlerts(ctx context.Context, c alertsConfig, stdout io.Writer) error {
	st, err := c.CH.openReadOnly(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	since := time.Now().Add(-c.Since).UTC().Truncate(time.Second)
	list, err := alerts.List(ctx, st, alerts.ListOptions{Since: since, Tenant: c.Tenant})
	if err != nil {
		return err
	}
	var keys []store.ProductKey
	for _, a := range list {
		if a.Level == alerts.LevelProduct {
			keys = append(keys, store.ProductKey{Tenant: a.Tenant, CSP: a.CSP, TargetID: a.TargetID})
		}
	}
	products, err := st.Products(ctx, keys)
	if err != nil {
		return err
	}
	nameAlerts(list, products)
	switch c.Format {
	case output.FormatJSON:
		return output.WriteJSON(stdout, alertsDocument(list, c.Tenant, since))
	case output.FormatCSV:
		return output.WriteCSV(stdout, alertsTable(list, c.Tenant, since))
	}
	return writeAlerts(stdout, list, c.Tenant, since, time.Now())
}

// nameAlerts names the products of product-level alerts as the catalog
// names them now (an administrator may have named one since it fired):
// the catalog's name when it has one, and its version when the alert has
// none.
func nameAlerts(list []alerts.Alert, products map[store.ProductKey]store.Product) {
	for i := range list {
		a := &list[i]
		if a.Level != alerts.LevelProduct {
			continue
		}
		p := products[store.ProductKey{Tenant: a.Tenant, CSP: a.CSP, TargetID: a.TargetID}]
		if p.Known {
			a.ProductName = p.Name
		}
		if a.ProductVersion == "" && p.Version != "" {
			a.ProductVersion, a.VersionFromCatalog = p.Version, true
		}
	}
}

// alertJSON is one alert of `aggregator alerts --format json`: what an
// on-call administrator acts on, in stable lower_snake_case keys. Numbers
// are numbers; times RFC 3339 UTC; resolved_at is absent while firing.
type alertJSON struct {
	ID                 string     `json:"id"`
	Status             string     `json:"status"`
	Severity           string     `json:"severity"`
	Level              string     `json:"level"`
	Tenant             string     `json:"tenant"`
	CSP                string     `json:"csp"`
	Product            string     `json:"product"`
	Version            string     `json:"version"`
	VersionFromCatalog bool       `json:"version_from_catalog"`
	TargetID           string     `json:"target_id"`
	CodeSpace          string     `json:"code_space"`
	Code               int64      `json:"code"`
	CodeHex            string     `json:"code_hex"`
	Name               string     `json:"name"`
	Description        string     `json:"description"`
	Category           string     `json:"category"`
	Advice             string     `json:"advice"`
	Source             string     `json:"source"`
	Attempts           uint64     `json:"attempts"`
	Devices            uint64     `json:"devices"`
	Finished           uint64     `json:"finished"`
	FailedShare        float64    `json:"failed_share"`
	Peak               uint64     `json:"peak"`
	Baseline           float64    `json:"baseline"`
	DeviceBaseline     float64    `json:"device_baseline"`
	Factor             float64    `json:"factor"`
	BucketSeconds      int        `json:"bucket_seconds"`
	SampleDevices      []string   `json:"sample_devices"`
	FirstSeen          time.Time  `json:"first_seen"`
	ResolvedAt         *time.Time `json:"resolved_at,omitempty"`
	Summary            string     `json:"summary"`
	Details            string     `json:"details"`
}

// alertsJSON is the document of `aggregator alerts --format json`.
type alertsJSON struct {
	Tenant   string      `json:"tenant,omitempty"`
	Since    time.Time   `json:"since"`
	Firing   int         `json:"firing"`
	Resolved int         `json:"resolved"`
	Alerts   []alertJSON `json:"alerts"`
}

func alertsDocument(list []alerts.Alert, tenant string, since time.Time) alertsJSON {
	doc := alertsJSON{Tenant: tenant, Since: since.UTC(), Alerts: []alertJSON{}}
	for _, a := range list {
		j := alertJSON{
			ID: a.ID, Status: string(a.Status), Severity: string(a.Severity), Level: string(a.Level),
			Tenant: a.Tenant, CSP: a.CSP, Product: alertProduct(&a), Version: a.ProductVersion,
			VersionFromCatalog: a.VersionFromCatalog, TargetID: a.TargetID,
			CodeSpace: string(a.CodeSpace), Code: a.Code, CodeHex: a.CodeHex, Name: a.CodeName,
			Description: a.CodeDescription, Category: a.Category, Advice: a.Advice, Source: a.CodeSource,
			Attempts: a.Attempts, Devices: a.Devices, Finished: a.Finished, FailedShare: a.Share, Peak: a.Peak,
			Baseline: a.Baseline, DeviceBaseline: a.DeviceBaseline, Factor: a.Factor, BucketSeconds: a.BucketSeconds,
			SampleDevices: a.SampleDevices, FirstSeen: a.FirstSeen.UTC(), Summary: a.Summary, Details: a.Query,
		}
		if j.SampleDevices == nil {
			j.SampleDevices = []string{}
		}
		if a.Status == alerts.Resolved {
			r := a.ResolvedAt.UTC()
			j.ResolvedAt = &r
			doc.Resolved++
		} else {
			doc.Firing++
		}
		doc.Alerts = append(doc.Alerts, j)
	}
	return doc
}

// alertProduct is the product an alert names: the catalog's name, the
// target id marked unknown when nothing names it, "" at the code level.
func alertProduct(a *alerts.Alert) string {
	if a.Level != alerts.LevelProduct {
		return ""
	}
	if a.ProductName != "" {
		return a.ProductName
	}
	return store.UnknownLabel(a.TargetID)
}

// alertsTable is the alerts as one table, one row per alert: the CSV of
// `aggregator alerts --format csv`, with the columns of the JSON that fit a
// cell (sample devices joined by spaces).
func alertsTable(list []alerts.Alert, tenant string, since time.Time) *output.Table {
	t := output.NewTable("alerts", alertsTitle(list, tenant, since),
		"status", "severity", "level", "tenant", "csp", "product", "version", "target_id",
		"code_space", "code", "code_hex", "name", "category", "advice",
		"devices", "attempts", "finished", "baseline", "peak", "sample_devices",
		"first_seen", "resolved_at", "id", "details")
	for _, a := range list {
		resolved := time.Time{}
		if a.Status == alerts.Resolved {
			resolved = a.ResolvedAt
		}
		t.Add(string(a.Status), string(a.Severity), string(a.Level), a.Tenant, a.CSP, alertProduct(&a), a.ProductVersion, a.TargetID,
			string(a.CodeSpace), a.Code, a.CodeHex, a.CodeName, a.Category, a.Advice,
			a.Devices, a.Attempts, a.Finished, a.Baseline, a.Peak, strings.Join(a.SampleDevices, " "),
			a.FirstSeen, resolved, a.ID, a.Query)
	}
	return t
}

func alertsTitle(list []alerts.Alert, tenant string, since time.Time) string {
	scope := "all tenants"
	if tenant != "" {
		scope = "tenant " + tenant
	}
	firing := 0
	for _, a := range list {
		if a.Status == alerts.Firing {
			firing++
		}
	}
	return fmt.Sprintf("cspwatch spike alerts, %s, since %s: %d (%d firing, %d resolved)",
		scope, since.UTC().Format(time.RFC3339), len(list), firing, len(list)-firing)
}

// alertCause is "1603 (0x80070643) ERROR_INSTALL_FAILURE", an HRESULT as
// its hex alone.
func alertCause(a *alerts.Alert) string {
	c := strconv.FormatInt(a.Code, 10)
	switch {
	case a.CodeSpace == "hresult" && a.CodeHex != "":
		c = a.CodeHex
	case a.CodeSpace == "hresult" || a.Code < 0 && a.Code >= math.MinInt32:
		c = "0x" + strconv.FormatUint(uint64(uint32(a.Code)), 16)
	case a.CodeHex != "":
		c += " (" + a.CodeHex + ")"
	}
	if a.CodeName != "" {
		c += " " + a.CodeName
	}
	return c
}

// writeAlerts renders alerts for a terminal: an overview table (the
// output package's), then one block per spike, oldest first, with the
// cause's advice and the SQL that lists the failed attempts behind it:
// short, from the install_attempts view, while the view still holds the
// alert's attempts at now, else the whole rule.
func writeAlerts(w io.Writer, list []alerts.Alert, tenant string, since, now time.Time) error {
	t := output.NewTable("alerts", alertsTitle(list, tenant, since),
		"status", "severity", "product:PRODUCT (OR ALL)", "cause", "devices", "attempts", "baseline", "first_seen")
	for _, a := range list {
		t.Add(string(a.Status), string(a.Severity), a.Scope(), alertCause(&a), a.Devices, a.Attempts,
			math.Round(a.Baseline*100)/100, a.FirstSeen)
	}
	if err := output.WriteTables(w, t); err != nil {
		return err
	}
	var b strings.Builder
	for _, a := range list {
		b.WriteByte('\n')
		level := "code level, all products"
		if a.Level == alerts.LevelProduct {
			level = "product level"
		}
		status := strings.ToUpper(string(a.Status))
		if a.Severity != "" {
			status += " " + string(a.Severity)
		}
		fmt.Fprintf(&b, "%s  %s  tenant %s\n", status, level, a.Tenant)
		field := func(name, value string) { fmt.Fprintf(&b, "  %-11s %s\n", name, oneLine(value)) }
		product := "all products"
		if a.Level == alerts.LevelProduct {
			product = a.Scope() + "  (target " + a.TargetID + ")"
			field("csp", a.CSP)
		}
		field("product", product)
		code := alertCause(&a) + "  [" + string(a.CodeSpace) + "]"
		if a.Category != "" {
			code += "  category " + a.Category
		}
		field("cause", code)
		if a.CodeDescription != "" {
			field("", a.CodeDescription)
		}
		if a.Advice != "" {
			field("advice", a.Advice)
		}
		devices := fmt.Sprintf("%d (baseline %s)", a.Devices, strconv.FormatFloat(math.Round(a.DeviceBaseline*100)/100, 'f', -1, 64))
		if len(a.SampleDevices) > 0 {
			devices += ", e.g. " + strings.Join(a.SampleDevices, ", ")
		}
		field("devices", devices)
		attempts := fmt.Sprintf("%d failed in %ds (peak %d) vs baseline %s; fires above %s x baseline",
			a.Attempts, a.BucketSeconds, a.Peak, strconv.FormatFloat(math.Round(a.Baseline*100)/100, 'f', -1, 64), strconv.FormatFloat(a.Factor, 'g', -1, 64))
		if a.Finished > 0 {
			attempts += fmt.Sprintf("; %.0f%% of %d finished", 100*a.Share, a.Finished)
		}
		field("attempts", attempts)
		field("first seen", a.FirstSeen.UTC().Format(time.RFC3339))
		if a.Status == alerts.Resolved {
			field("resolved", a.ResolvedAt.UTC().Format(time.RFC3339))
		}
		field("alert id", a.ID)
		details, ok := a.ViewQuery(now)
		if !ok {
			details = a.Query
		}
		for i, line := range strings.Split(details, "\n") {
			name := ""
			if i == 0 {
				name = "details"
			}
			fmt.Fprintf(&b, "  %-11s %s\n", name, line)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// alertsSpec describes the command whose flags fs holds.
func alertsSpec(fs *flag.FlagSet) *ffcli.Command {
	return &ffcli.Command{
		Name:       "alerts",
		ShortUsage: "aggregator alerts [--since 24h] [--tenant T] [--format table|json|csv] [flags]",
		ShortHelp:  "print the spike alerts from ClickHouse",
		LongHelp:   "Prints the spike alerts with a transition within --since, each with its cause, advice\nand the SQL behind it. It only reads ClickHouse.",
		FlagSet:    fs,
	}
}
