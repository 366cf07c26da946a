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
	"github.com/cspwatch/cspwatch/internal/store"
)

// alertsConfig is the configuration of `aggregator alerts`.
type alertsConfig struct {
	CH     chFlags
	Since  time.Duration
	Tenant string
}

func parseAlertsConfig(args []string, getenv func(string) string, stderr io.Writer) (alertsConfig, error) {
	c := alertsConfig{CH: defaultCHFlags(), Since: 24 * time.Hour}
	fs := flag.NewFlagSet("aggregator alerts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.CH.register(fs)
	fs.DurationVar(&c.Since, "since", c.Since, "list the alerts with a transition this recent")
	fs.StringVar(&c.Tenant, "tenant", c.Tenant, "only this tenant (all when empty)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: aggregator alerts [--since 24h] [--tenant T] [flags]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, getenv); err != nil {
		return c, err
	}
	if c.Since <= 0 {
		return c, fmt.Errorf("%w: since %v: must be positive", errUsage, c.Since)
	}
	if err := c.CH.config().Validate(); err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	return c, nil
}

// listAlerts prints the spike alerts of the ClickHouse alerts table.
func listAlerts(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseAlertsConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	st, err := c.CH.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	since := time.Now().Add(-c.Since).UTC().Truncate(time.Second)
	list, err := alerts.ListAlerts(ctx, st.Conn(), alerts.ListOptions{Since: since, Tenant: c.Tenant})
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
	return writeAlerts(stdout, list, c.Tenant, since)
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

// writeAlerts renders alerts for a terminal, one block per spike, oldest
// first, with the SQL that lists the events behind each.
func writeAlerts(w io.Writer, list []alerts.Alert, tenant string, since time.Time) error {
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
	var b strings.Builder
	fmt.Fprintf(&b, "cspwatch spike alerts, %s, since %s: %d (%d firing, %d resolved)\n",
		scope, since.UTC().Format(time.RFC3339), len(list), firing, len(list)-firing)
	if len(list) == 0 {
		b.WriteString("none\n")
	}
	for _, a := range list {
		b.WriteByte('\n')
		level := "code level, all products"
		if a.Level == alerts.LevelProduct {
			level = "product level"
		}
		fmt.Fprintf(&b, "%s  %s  tenant %s\n", strings.ToUpper(string(a.Status)), level, a.Tenant)
		field := func(name, value string) { fmt.Fprintf(&b, "  %-11s %s\n", name, value) }
		product := "all products"
		if a.Level == alerts.LevelProduct {
			product = a.ProductName
			if product == "" {
				product = store.UnknownLabel(a.TargetID)
			}
			if a.ProductVersion != "" {
				product += " " + a.ProductVersion
			}
			product += "  (target " + a.TargetID + ")"
		}
		field("csp", a.CSP)
		field("product", product)
		code := codeText(a.Code)
		if a.CodeName != "" {
			code += " " + a.CodeName
		}
		code += "  [" + string(a.CodeSpace) + "]"
		if a.Category != "" {
			code += "  category " + a.Category
		}
		field("code", code)
		if a.CodeDescription != "" {
			field("", a.CodeDescription)
		}
		field("failures", fmt.Sprintf("%d in %ds (peak %d) vs baseline %s; fires above %s x baseline",
			a.Failures, a.BucketSeconds, a.Peak, strconv.FormatFloat(math.Round(a.Baseline*100)/100, 'f', -1, 64), strconv.FormatFloat(a.Factor, 'g', -1, 64)))
		devices := strconv.FormatUint(a.Devices, 10)
		if len(a.SampleDevices) > 0 {
			devices += ", e.g. " + strings.Join(a.SampleDevices, ", ")
		}
		field("devices", devices)
		field("first seen", a.FirstSeen.UTC().Format(time.RFC3339))
		if a.Status == alerts.Resolved {
			field("resolved", a.ResolvedAt.UTC().Format(time.RFC3339))
		}
		field("alert id", a.ID)
		for i, line := range strings.Split(a.Query, "\n") {
			name := ""
			if i == 0 {
				name = "details"
			}
			field(name, line)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
