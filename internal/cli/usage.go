package cli

import (
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// Usage is the help of c: its usage line, its long help, its subcommands
// and its flags, each flag with its default and its variable under prefix.
// Flags are listed as "  -name type", the layout of flag.PrintDefaults.
func Usage(c *ffcli.Command, prefix string) string {
	var b strings.Builder
	u := c.ShortUsage
	if u == "" {
		u = c.FlagSet.Name()
		if len(c.Subcommands) > 0 {
			u += " <command>"
		}
		if hasFlags(c.FlagSet) {
			u += " [flags]"
		}
	}
	fmt.Fprintf(&b, "usage: %s\n", u)
	if c.ShortHelp != "" && c.LongHelp == "" {
		fmt.Fprintf(&b, "\n%s\n", c.ShortHelp)
	}
	if c.LongHelp != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimRight(c.LongHelp, "\n"))
	}
	if len(c.Subcommands) > 0 {
		b.WriteString("\nCommands:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, s := range c.Subcommands {
			fmt.Fprintf(tw, "  %s\t%s\n", s.Name, s.ShortHelp)
		}
		tw.Flush()
		fmt.Fprintf(&b, "\nRun '%s <command> -h' for a command's flags.\n", c.FlagSet.Name())
	}
	if hasFlags(c.FlagSet) {
		b.WriteString("\nFlags:\n")
		b.WriteString(flagList(c.FlagSet, prefix))
		fmt.Fprintf(&b, "\nEvery flag can be set as %s_<FLAG> in the environment (--a-flag as %s); the command line wins.\n",
			prefix, EnvKey(prefix, "a-flag"))
	}
	return b.String()
}

// FlagUsage is the help of a flag set used on its own: its name and flags.
func FlagUsage(fs *flag.FlagSet, prefix string) string {
	return Usage(&ffcli.Command{FlagSet: fs}, prefix)
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "version" {
			n++
		}
	})
	return n > 0
}

func flagList(fs *flag.FlagSet, prefix string) string {
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "version" {
			return
		}
		inner := &flag.Flag{Name: f.Name, Usage: f.Usage, Value: unwrap(f.Value), DefValue: f.DefValue}
		name, usage := flag.UnquoteUsage(inner)
		if _, isEnum := inner.Value.(*Enum); isEnum {
			name = "string"
		}
		fmt.Fprintf(&b, "  -%s", f.Name)
		if name != "" {
			fmt.Fprintf(&b, " %s", name)
		}
		b.WriteString("\n    \t")
		b.WriteString(strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "[]" {
			fmt.Fprintf(&b, " (default %s)", quoteDefault(f))
		}
		if commandLineOnly(f) {
			b.WriteString("\n")
		} else {
			fmt.Fprintf(&b, " [%s]\n", EnvKey(prefix, f.Name))
		}
	})
	return b.String()
}

func quoteDefault(f *flag.Flag) string {
	switch v := unwrap(f.Value); v.(type) {
	case *Enum:
		return fmt.Sprintf("%q", f.DefValue)
	default:
		if fmt.Sprintf("%T", v) == "*flag.stringValue" {
			return fmt.Sprintf("%q", f.DefValue)
		}
	}
	return f.DefValue
}
