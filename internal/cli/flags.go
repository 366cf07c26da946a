package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// EnvKey is the variable of the flag name under prefix: upper case, '-'
// as '_' (EnvKey("CSPWATCH", "nats-url") is CSPWATCH_NATS_URL), the names
// ff.WithEnvVarPrefix gives.
func EnvKey(prefix, name string) string {
	return strings.ToUpper(prefix + "_" + strings.NewReplacer("-", "_", ".", "_", "/", "_").Replace(name))
}

// Parse parses args into fs for a command used on its own (tests, and
// commands outside an App): the command line, then the variables under
// prefix for the flags it did not set. On -h it writes the usage to help
// and returns flag.ErrHelp; positional arguments are refused. Every other
// error wraps ErrUsage and says what the flag expects.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string, prefix string, help io.Writer) error {
	return parseAlone(&ffcli.Command{FlagSet: fs}, args, getenv, prefix, help, nil)
}

// Positional parses args, the arguments after a command's leading flags,
// into fs, flags and positional arguments in any order, and returns the
// positional ones. A "--" ends the flags. Errors are those of Parse; -h
// returns flag.ErrHelp.
func Positional(fs *flag.FlagSet, args []string) ([]string, error) {
	errs := &valueErrors{}
	describe(fs, errs)
	var pos []string
	for len(args) > 0 {
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		if !strings.HasPrefix(args[0], "-") || args[0] == "-" {
			pos, args = append(pos, args[0]), args[1:]
			continue
		}
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.Usage()
				return nil, err
			}
			return nil, errs.explain(fs.Name(), err)
		}
		args = fs.Args()
	}
	return pos, nil
}

// NoArgs refuses positional arguments; it is the usual start of a leaf
// command's Exec.
func NoArgs(fs *flag.FlagSet, args []string) error {
	if len(args) > 0 {
		return Usagef("%s: unexpected arguments %q", fs.Name(), args)
	}
	return nil
}

// ApplyEnv sets the flags names of fs (all when none is named) that are
// not set yet, by the command line or an earlier ApplyEnv, from their
// non-empty variables under prefix. A command that also takes another
// binary's variables for some flags (the demo takes CSPWATCH_NATS_URL)
// calls it after its own have been applied.
func ApplyEnv(fs *flag.FlagSet, getenv func(string) string, prefix string, names ...string) error {
	only := map[string]bool{}
	for _, n := range names {
		only[n] = true
	}
	errs := &valueErrors{}
	describe(fs, errs)
	var skip []string
	fs.VisitAll(func(f *flag.Flag) {
		if len(only) > 0 && !only[f.Name] {
			skip = append(skip, f.Name)
		}
	})
	return applyEnv(fs, getenv, prefix, errs, skip...)
}

// applyEnv sets every flag of fs that the command line did not set, but
// those of skip, from its non-empty variable under prefix.
func applyEnv(fs *flag.FlagSet, getenv func(string) string, prefix string, errs *valueErrors, skip ...string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, n := range skip {
		set[n] = true
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] || commandLineOnly(f) {
			return
		}
		key := EnvKey(prefix, f.Name)
		v := getenv(key)
		if v == "" {
			return
		}
		errs.last = nil
		if e := fs.Set(f.Name, v); e != nil {
			if errs.last != nil {
				e = errs.last
			}
			err = Usagef("%s: %s=%q: %v", fs.Name(), key, v, e)
		}
	})
	return err
}

// CommandLineOnly marks the flags names of fs, destructive ones such as
// "dlq replay --all", as taken from the command line only: no variable
// sets them, so a forgotten export cannot turn them on, and their help
// says so. It panics on a name fs does not define.
func CommandLineOnly(fs *flag.FlagSet, names ...string) {
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil {
			panic("cli: CommandLineOnly: no flag " + n)
		}
		if !commandLineOnly(f) {
			f.Value = &cmdLineOnly{Value: f.Value}
			f.Usage += " (command line only: never read from the environment)"
		}
	}
}

// cmdLineOnly is the value of a flag CommandLineOnly marked.
type cmdLineOnly struct{ flag.Value }

func (c *cmdLineOnly) IsBoolFlag() bool {
	b, ok := c.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func (c *cmdLineOnly) Get() any {
	if g, ok := c.Value.(flag.Getter); ok {
		return g.Get()
	}
	return c.Value.String()
}

// commandLineOnly reports whether f was marked by CommandLineOnly.
func commandLineOnly(f *flag.Flag) bool {
	v := f.Value
	if d, ok := v.(*described); ok {
		v = d.Value
	}
	_, ok := v.(*cmdLineOnly)
	return ok
}

// unwrap is the value a flag was defined with, under the wrappers of this
// package.
func unwrap(v flag.Value) flag.Value {
	for {
		switch w := v.(type) {
		case *described:
			v = w.Value
		case *cmdLineOnly:
			v = w.Value
		default:
			return v
		}
	}
}

// ValueError is an invalid flag value: it names the flag and says what the
// flag expects.
type ValueError struct {
	Flag  string
	Value string
	// Want is what the flag expects ("a duration such as 24h"), or the
	// error of the flag's own Value.
	Want string
}

func (e *ValueError) Error() string {
	if strings.HasPrefix(e.Want, "want ") || strings.Contains(e.Want, "want ") {
		return fmt.Sprintf("--%s: %s", e.Flag, e.Want)
	}
	return fmt.Sprintf("--%s: want %s, got %q", e.Flag, e.Want, e.Value)
}

// valueErrors remembers the last value a described flag refused, which
// flag only quotes as text.
type valueErrors struct{ last *ValueError }

// explain turns an error of flag.FlagSet.Parse (or of ff.Parse, which
// wraps it) for the command named cmd into a usage error that says what
// was expected.
func (v *valueErrors) explain(cmd string, err error) error {
	if v.last != nil {
		e := v.last
		v.last = nil
		return Usagef("%s: %v", cmd, e)
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error parsing commandline arguments: ")
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return Usagef("%s: unknown flag --%s (%s -h lists the flags)", cmd, name, cmd)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return Usagef("%s: --%s: needs a value", cmd, name)
	}
	return Usagef("%s: %s", cmd, msg)
}

// describe wraps every value of fs so that a refused value is recorded
// in errs with what the flag expects.
func describe(fs *flag.FlagSet, errs *valueErrors) {
	fs.VisitAll(func(f *flag.Flag) {
		if d, ok := f.Value.(*described); ok {
			d.errs = errs
			return
		}
		f.Value = &described{Value: f.Value, name: f.Name, errs: errs}
	})
}

// described is a flag.Value that explains its errors.
type described struct {
	flag.Value
	name string
	errs *valueErrors
}

func (d *described) Set(s string) error {
	err := d.Value.Set(s)
	if err != nil {
		d.errs.last = &ValueError{Flag: d.name, Value: s, Want: want(d.Value, err)}
		return d.errs.last
	}
	return nil
}

func (d *described) IsBoolFlag() bool {
	b, ok := d.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func (d *described) Get() any {
	if g, ok := d.Value.(flag.Getter); ok {
		return g.Get()
	}
	return d.Value.String()
}

// want says what a value of v's type looks like; for the flag package's
// own types that is a sentence, for the others their error.
func want(v flag.Value, err error) string {
	switch fmt.Sprintf("%T", unwrap(v)) {
	case "*flag.durationValue":
		return "a duration such as 24h, 90s or 1h30m"
	case "*flag.intValue", "*flag.int64Value":
		if strings.Contains(err.Error(), "range") {
			return "an integer in range"
		}
		return "an integer"
	case "*flag.uintValue", "*flag.uint64Value":
		return "a whole number (0 or more)"
	case "*flag.float64Value":
		return "a number such as 0.5"
	case "*flag.boolValue":
		return "true or false"
	}
	return err.Error()
}

// Enum is a string flag that takes one of a fixed set of values.
type Enum struct {
	p       *string
	choices []string
}

// EnumVar defines a flag that accepts only one of choices (the first is
// listed first in errors); p holds the default.
func EnumVar(fs *flag.FlagSet, p *string, name, usage string, choices ...string) {
	fs.Var(&Enum{p: p, choices: choices}, name, usage)
}

func (e *Enum) String() string {
	if e == nil || e.p == nil {
		return ""
	}
	return *e.p
}

// Set accepts one of the choices, case-insensitively.
func (e *Enum) Set(s string) error {
	for _, c := range e.choices {
		if strings.EqualFold(strings.TrimSpace(s), c) {
			*e.p = c
			return nil
		}
	}
	return fmt.Errorf("want %s, got %q", OneOf(e.choices), s)
}

// OneOf lists choices as "a, b or c".
func OneOf(choices []string) string {
	switch len(choices) {
	case 0:
		return ""
	case 1:
		return choices[0]
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}

// CheckAddr reports whether addr is a listen or dial address host:port
// with a port from 0 to 65535; the error names the flag and shows an
// example.
func CheckAddr(name, addr, example string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil && addr != "" {
		if !isDigits(port) {
			return nil // a named port ("http") is the resolver's to check
		}
		if n, err := strconv.Atoi(port); port == "" || err == nil && n <= 65535 {
			return nil
		}
	}
	return fmt.Errorf("--%s: want an address host:port (port 0 to 65535) such as %s, got %q", name, example, addr)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// CheckURL reports whether s is an absolute URL of one of schemes
// ("http", "https") with a host; the error names the flag and shows an
// example.
func CheckURL(name, s, example string, schemes ...string) error {
	u, err := url.Parse(s)
	if err == nil && u.Host != "" && slices.Contains(schemes, strings.ToLower(u.Scheme)) {
		return nil
	}
	return &ValueError{Flag: name, Value: s, Want: fmt.Sprintf("an absolute URL (%s) such as %s", OneOf(schemeNames(schemes)), example)}
}

func schemeNames(schemes []string) []string {
	out := make([]string, len(schemes))
	for i, s := range schemes {
		out[i] = s + "://"
	}
	return out
}

// Rule is one check of a flag's value: when OK is false, the flag's value
// is refused with what it wants ("an integer of 1 or more").
type Rule struct {
	Flag string
	OK   bool
	Want string
	// Value is the value quoted in the error; empty takes the flag's
	// value in the flag set CheckRules is given.
	Value string
}

// CheckRules returns, for the first rule of rules that fails, the error
// "--flag: want ..., got "value"" with the rule's value or else the
// flag's value in fs (which may be nil when every rule has its value): the
// semantic checks of a command, made where its flags are known, so that
// every invalid value names its flag and says what it expects.
func CheckRules(fs *flag.FlagSet, rules ...Rule) error {
	for _, r := range rules {
		if r.OK {
			continue
		}
		v := r.Value
		if v == "" && fs != nil {
			f := fs.Lookup(r.Flag)
			if f == nil {
				panic("cli: CheckRules: no flag " + r.Flag)
			}
			v = f.Value.String()
		}
		return &ValueError{Flag: r.Flag, Value: v, Want: r.Want}
	}
	return nil
}

// Given returns the names of the flags of fs set by the command line or the
// environment.
func Given(fs *flag.FlagSet) []string {
	var names []string
	fs.Visit(func(f *flag.Flag) { names = append(names, f.Name) })
	slices.Sort(names)
	return names
}

// Leaf completes c, a command without subcommands or positional
// arguments: its Exec refuses arguments, runs check once the flags and
// the environment are in (an error is a usage error naming the command),
// then runs run.
func Leaf(c *ffcli.Command, check func() error, run func(context.Context) error) *ffcli.Command {
	c.Exec = func(ctx context.Context, args []string) error {
		if err := NoArgs(c.FlagSet, args); err != nil {
			return err
		}
		if err := Check(c.FlagSet, check); err != nil {
			return err
		}
		return run(ctx)
	}
	return c
}

// Check runs check, a command's validation after its flags are parsed,
// and returns its error as a usage error naming fs's command.
func Check(fs *flag.FlagSet, check func() error) error {
	if check == nil {
		return nil
	}
	if err := check(); err != nil {
		return AsUsage(fmt.Errorf("%s: %w", fs.Name(), err))
	}
	return nil
}

// ParseAlone parses the flags of c, a leaf command, on their own, as
// Parse does (-h writes c's usage to help), then runs check as Leaf does:
// what tests and configuration checks call to get a command's
// configuration without running it.
func ParseAlone(c *ffcli.Command, args []string, getenv func(string) string, help io.Writer, check func() error) error {
	return parseAlone(c, args, getenv, EnvPrefix, help, check)
}

func parseAlone(c *ffcli.Command, args []string, getenv func(string) string, prefix string, help io.Writer, check func() error) error {
	fs := c.FlagSet
	errs := &valueErrors{}
	fs.SetOutput(io.Discard)
	describe(fs, errs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(help, Usage(c, prefix))
			return err
		}
		return errs.explain(fs.Name(), err)
	}
	if err := NoArgs(fs, fs.Args()); err != nil {
		return err
	}
	if err := applyEnv(fs, getenv, prefix, errs); err != nil {
		return err
	}
	return Check(fs, check)
}

// ParsePositional parses a command's flags and positional arguments in
// any order on their own, then the variables of the flags not given, as
// Parse does; it returns the positional arguments.
func ParsePositional(fs *flag.FlagSet, args []string, getenv func(string) string, help io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() { io.WriteString(help, FlagUsage(fs, EnvPrefix)) }
	pos, err := Positional(fs, args)
	if err != nil {
		return nil, err
	}
	errs := &valueErrors{}
	describe(fs, errs)
	return pos, applyEnv(fs, getenv, EnvPrefix, errs)
}
