package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cspwatch/cspwatch/internal/catalog"
	"github.com/cspwatch/cspwatch/internal/envflag"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
)

const catalogUsage = `usage:
  aggregator catalog load [--dry-run] [flags] FILE   check a product file (CSV or JSON, see README) and
                                                     store its products as the administrator's names
  aggregator catalog list [--tenant T] [flags]       print the product catalog: the best known name,
                                                     version and publisher of every target
`

// catalogCmd runs `aggregator catalog load|list`.
func catalogCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, catalogUsage)
		return fmt.Errorf("%w: catalog: want load or list", errUsage)
	}
	switch args[0] {
	case "load":
		return catalogLoad(ctx, args[1:], getenv, stdout, stderr)
	case "list":
		return catalogList(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, catalogUsage)
		return nil
	}
	fmt.Fprint(stderr, catalogUsage)
	return fmt.Errorf("%w: catalog: unknown command %q (want load or list)", errUsage, args[0])
}

// catalogLoadConfig is the configuration of `aggregator catalog load`.
type catalogLoadConfig struct {
	CH     chFlags
	File   string
	DryRun bool
}

func parseCatalogLoadConfig(args []string, getenv func(string) string, stderr io.Writer) (catalogLoadConfig, error) {
	c := catalogLoadConfig{CH: defaultCHFlags()}
	fs := flag.NewFlagSet("aggregator catalog load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.CH.register(fs)
	fs.BoolVar(&c.DryRun, "dry-run", c.DryRun, "check the file and print what it holds, without storing it")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: aggregator catalog load [--dry-run] [flags] FILE\n\nFILE is CSV (header tenant,csp,target_id,name,version,publisher) or a JSON array of objects with those keys.")
		fs.PrintDefaults()
	}
	// FILE may stand before or after the flags.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return c, err
			}
			return c, fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		fs.Usage()
		return c, fmt.Errorf("%w: catalog load: want one FILE, got %d", errUsage, len(files))
	}
	c.File = files[0]
	if err := envflag.Apply(fs, getenv, "CSPWATCH_"); err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := c.CH.config().Validate(); err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	return c, nil
}

// catalogLoad checks a product file and stores it as catalog source admin.
// A file with any error stores nothing.
func catalogLoad(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseCatalogLoadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
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

// catalogList prints the catalog's best knowledge of every target.
func catalogList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ch := defaultCHFlags()
	var tenant string
	fs := flag.NewFlagSet("aggregator catalog list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ch.register(fs)
	fs.StringVar(&tenant, "tenant", tenant, "only this tenant (all when empty)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if err := ch.config().Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	st, err := ch.openExisting(ctx)
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
