// Package envflag gives every cspwatch command the same environment
// overrides: a flag not given on the command line takes the value of its
// variable, PREFIX followed by the flag's name in upper case with '-' as
// '_' (--nats-url under CSPWATCH_ is CSPWATCH_NATS_URL). The command line
// wins over the environment, and the environment over the defaults.
package envflag

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// ErrUsage marks a command-line or environment error: the commands exit
// with status 2 on it, as flag does on -h.
var ErrUsage = errors.New("usage")

// Parse parses args into fs, refuses positional arguments, then applies the
// variables under prefix (see Apply). flag.ErrHelp is returned as is; every
// other error wraps ErrUsage.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string, prefix string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	}
	if err := Apply(fs, getenv, prefix); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return nil
}

// Key returns the environment variable of the flag name under prefix.
func Key(prefix, name string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Apply sets every flag of fs that is not set yet (by the command line or an
// earlier Apply) from its non-empty variable under prefix. When names are
// given, only those flags are considered. It must run after fs.Parse. A
// value the flag refuses is an error naming the variable and the value; the
// flags set before it keep their values.
func Apply(fs *flag.FlagSet, getenv func(string) string, prefix string, names ...string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	only := map[string]bool{}
	for _, n := range names {
		only[n] = true
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] || (len(only) > 0 && !only[f.Name]) {
			return
		}
		key := Key(prefix, f.Name)
		if v := getenv(key); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", key, v, e)
			}
		}
	})
	return err
}
