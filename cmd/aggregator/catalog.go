package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cspwatch/cspwatch/internal/catalog"
	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/peterbourgon/ff/v3/ffcli"
)

// catalogCommand is `aggregator catalog load|list`.
func catalogCommand(stdout, _ io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:        "catalog",
		ShortUsage:  "aggregator catalog <load|list> [flags]",
		ShortHelp:   "load a product file into the product catalog, or list the catalog",
		Subcommands: []*ffcli.Command{catalogLoadCommand(stdout), catalogListCommand(stdout)},
	}
}

// catalogLoadConfig is the configuration of `aggregator catalog load`.
type catalogLoadConfig struct {
	CH     chFlags
	File   string
	DryRun bool
}

func catalogLoadFlags() (*catalogLoadConfig, *flag.FlagSet) {
	c := &catalogLoadConfig{CH: defaultCHFlags()}
	fs := flag.NewFlagSet("aggregator catalog load", flag.ContinueOnError)
	c.CH.register(fs, chWriteExisting)
	fs.BoolVar(&c.DryRun, "dry-run", c.DryRun, "check the file and print what it holds, without storing it")
	return c, fs
}

// setFiles takes the positional arguments of `catalog load`: one FILE.
func (c *catalogLoadConfig) setFiles(files []string) error {
	if len(files) != 1 {
		return cli.Usagef("aggregator catalog load: want one FILE, got %d", len(files))
	}
	c.File = files[0]
	return nil
}

func parseCatalogLoadConfig(args []string, getenv func(string) string, stderr io.Writer) (catalogLoadConfig, error) {
	c, fs := catalogLoadFlags()
	files, err := cli.ParsePositional(fs, args, getenv, stderr)
	if err == nil {
		err = c.setFiles(files)
	}
	if err == nil {
		err = cli.Check(fs, c.CH.validate)
	}
	return *c, err
}

func catalogLoadCommand(stdout io.Writer) *ffcli.Command {
	c, fs := catalogLoadFlags()
	return &ffcli.Command{
		Name:       "load",
		ShortUsage: "aggregator catalog load [--dry-run] [flags] FILE",
		ShortHelp:  "check a product file (CSV or JSON) and store its names in the product catalog",
		LongHelp: `FILE is CSV (header tenant,csp,target_id,name,version,publisher) or a JSON
array of objects with those keys. A file with any error stores nothing.`,
		FlagSet: fs,
		Exec: func(ctx context.Context, args []string) error {
			files, err := cli.Positional(fs, args)
			if err != nil {
				return err
			}
			if err := c.setFiles(files); err != nil {
				return err
			}
			if err := cli.Check(fs, c.CH.validate); err != nil {
				return err
			}
			return catalogLoad(ctx, *c, stdout)
		},
	}
}

// catalogLoad checks a product file and stores it as catalog source admin.
// A file with any error stores nothing.
func catalogLoad(ctx context.Context, c catalogLoadConfig, stdout io.Writer) error {
	products, err := catalog.ReadFile(c.File)
	if err != nil {
		return err
	}
	if c.DryRun {
		fmt.Fprintf(stdout, "%s: %s for %s (dry run, nothing stored)\n", c.File, plural(len(products), "product"), tenantList(products))
		return nil
	}
	st, err := c.CH.openExisting(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.InsertAdminProducts(ctx, products, time.Now()); err != nil {
		return fmt.Errorf("%w (has `aggregator migrate` run?)", err)
	}
	fmt.Fprintf(stdout, "%s: stored %s for %s\n", c.File, plural(len(products), "product"), tenantList(products))
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// tenantList is "tenant t1" or "3 tenants (a, b, c)".
func tenantList(products []store.AdminProduct) string {
	var ts []string
	for _, p := range products {
		if !slices.Contains(ts, p.Tenant) {
			ts = append(ts, p.Tenant)
		}
	}
	slices.Sort(ts)
	if len(ts) == 1 {
		return "tenant " + ts[0]
	}
	if len(ts) > 5 {
		return fmt.Sprintf("%d tenants (%s, ...)", len(ts), strings.Join(ts[:5], ", "))
	}
	return fmt.Sprintf("%d tenants (%s)", len(ts), strings.Join(ts, ", "))
}

func catalogListCommand(stdout io.Writer) *ffcli.Command {
	ch := defaultCHFlags()
	var tenant string
	fs := flag.NewFlagSet("aggregator catalog list", flag.ContinueOnError)
	ch.register(fs, chRead)
	fs.StringVar(&tenant, "tenant", tenant, "only this tenant (all when empty)")
	return cli.Leaf(&ffcli.Command{
		Name:       "list",
		ShortUsage: "aggregator catalog list [--tenant T] [flags]",
		ShortHelp:  "print the product catalog: the best known name, version and publisher of every target",
		FlagSet:    fs,
	}, ch.validate, func(ctx context.Context) error { return catalogList(ctx, ch, tenant, stdout) })
}

// catalogList prints the catalog's best knowledge of every target.
func catalogList(ctx context.Context, ch chFlags, tenant string, stdout io.Writer) error {
	st, err := ch.openReadOnly(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	products, err := st.Catalog(ctx, tenant)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tCSP\tTARGET\tNAME\tVERSION\tPUBLISHER\tOFFICE PRODUCTS\tCHANNEL")
	for _, p := range products {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Tenant, event.CSPLabel(p.CSP), p.TargetID, p.Label(),
			dash(p.Version), dash(p.Publisher), dash(p.OfficeProducts), dash(p.OfficeChannel))
	}
	return tw.Flush()
}
