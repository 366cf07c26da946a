package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/cspwatch/cspwatch/internal/cli"
	"github.com/cspwatch/cspwatch/schema"
)

// sqlParamHelp is the long help of the sql commands that take --param.
const sqlParamHelp = `--param NAME=VALUE (repeatable) gives a parameter its value, raw as with
clickhouse-client --param_NAME=VALUE: a String is quoted here, an integer must
fit its type, a DateTime is "YYYY-MM-DD hh:mm:ss", Unix seconds or RFC 3339.
A parameter not given takes its default from queries.sql; one without a
default must be given. A parameter none of the queries takes is an error.`

// The actions of `aggregator sql`.
const (
	sqlList   = "list"
	sqlRender = "render"
	sqlRun    = "run"
)

// sqlConfig is the configuration of `aggregator sql list|render|run`.
type sqlConfig struct {
	Action string
	// Names are the queries to render or run, in the order given; empty
	// renders every query.
	Names []string
	// Params are the --param values, raw.
	Params paramFlag
	// CH is the ClickHouse to run on (run only).
	CH chFlags
}

// defaultSQLConfig is the configuration of action before any flag.
func defaultSQLConfig(action string) sqlConfig {
	return sqlConfig{Action: action, Params: paramFlag{}, CH: defaultCHFlags()}
}

// Validate checks the configuration against queries.sql: the queries
// exist, each at most once; the parameters are known to them, given when
// they have no default, and of their type; run names a query and a valid
// ClickHouse.
func (c *sqlConfig) Validate() error {
	file := schema.AdminQueries()
	switch c.Action {
	case sqlList:
		if len(c.Names) > 0 || len(c.Params) > 0 {
			return errors.New("sql list takes no query and no --param")
		}
		return nil
	case sqlRender, sqlRun:
	default:
		return fmt.Errorf("sql: unknown command %q (want list, render or run)", c.Action)
	}
	if c.Action == sqlRun && len(c.Names) == 0 {
		return errors.New("sql run: name the queries to run (aggregator sql list)")
	}
	qs, err := c.queries(file)
	if err != nil {
		return err
	}
	if _, err := schema.Render(qs, c.Params); err != nil {
		return fmt.Errorf("sql %s: %w", c.Action, err)
	}
	if c.Action == sqlRun {
		return c.CH.validate()
	}
	return nil
}

// queries returns the queries c names, or every query when it names none.
func (c *sqlConfig) queries(file *schema.QueryFile) ([]schema.Query, error) {
	if len(c.Names) == 0 {
		return file.Queries, nil
	}
	var qs []schema.Query
	for i, n := range c.Names {
		q, ok := file.Query(n)
		if !ok {
			return nil, fmt.Errorf("sql: no query %q (queries: %s)", n, strings.Join(file.Names(), ", "))
		}
		if slices.Contains(c.Names[:i], n) {
			return nil, fmt.Errorf("sql: query %s named twice", n)
		}
		qs = append(qs, q)
	}
	return qs, nil
}

// paramFlag collects repeated --param NAME=VALUE flags.
type paramFlag map[string]string

func (p paramFlag) String() string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + p[k]
	}
	return strings.Join(parts, " ")
}

// Set takes one NAME=VALUE; the value may be empty and may hold "=".
func (p paramFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want NAME=VALUE", s)
	}
	if _, dup := p[k]; dup {
		return fmt.Errorf("parameter %s given twice", k)
	}
	p[k] = v
	return nil
}

// sqlFlags returns the defaults of `aggregator sql ACTION` and its flag
// set: --param unless ACTION is list, and the ClickHouse flags (read-only)
// for run alone.
func sqlFlags(action string) (*sqlConfig, *flag.FlagSet) {
	c := defaultSQLConfig(action)
	fs := flag.NewFlagSet("aggregator sql "+action, flag.ContinueOnError)
	if action != sqlList {
		fs.Var(c.Params, "param", "a parameter's value, NAME=VALUE (repeatable)")
	}
	if action == sqlRun {
		c.CH.register(fs, chRead)
	}
	return &c, fs
}

// parseSQLConfig parses `aggregator sql ACTION` arguments: flags and query
// names may be mixed; a flag not given takes its CSPWATCH_* variable.
func parseSQLConfig(action string, args []string, getenv func(string) string, stderr io.Writer) (sqlConfig, error) {
	c, fs := sqlFlags(action)
	names, err := cli.ParsePositional(fs, args, getenv, stderr)
	if err != nil {
		return *c, err
	}
	c.Names = names
	return *c, cli.AsUsage(c.Validate())
}

// sqlCommand is `aggregator sql list|render|run`.
func sqlCommand(stdout, _ io.Writer) *ffcli.Command {
	return &ffcli.Command{
		Name:       "sql",
		ShortUsage: "aggregator sql <list|render|run> [flags] [NAME...]",
		ShortHelp:  "list, render and run the administrators' analyses of schema/queries.sql",
		Subcommands: []*ffcli.Command{
			sqlActionCommand(sqlList, "aggregator sql list",
				"the analyses of schema/queries.sql and their parameters", "", stdout),
			sqlActionCommand(sqlRender, "aggregator sql render [--param K=V ...] [NAME...]",
				"print the queries (all without NAME) with every parameter as a checked literal, for clickhouse-client --multiquery (18.16 too)",
				sqlParamHelp, stdout),
			sqlActionCommand(sqlRun, "aggregator sql run NAME... [--param K=V ...] [flags]",
				"run the queries on ClickHouse (read-only) and print their rows", sqlParamHelp, stdout),
		},
	}
}

func sqlActionCommand(action, usage, short, long string, stdout io.Writer) *ffcli.Command {
	c, fs := sqlFlags(action)
	return &ffcli.Command{
		Name: action, ShortUsage: usage, ShortHelp: short, LongHelp: long, FlagSet: fs,
		Exec: func(ctx context.Context, args []string) error {
			names, err := cli.Positional(fs, args)
			if err != nil {
				return err
			}
			c.Names = names
			if err := c.Validate(); err != nil {
				return cli.AsUsage(err)
			}
			return sqlExec(ctx, *c, stdout)
		},
	}
}

// sqlExec runs a validated `aggregator sql` configuration.
func sqlExec(ctx context.Context, c sqlConfig, stdout io.Writer) error {
	file := schema.AdminQueries()
	qs, err := c.queries(file)
	if err != nil {
		return cli.AsUsage(err)
	}
	switch c.Action {
	case sqlList:
		return writeQueryList(stdout, file)
	case sqlRender:
		script, err := schema.Script(qs, c.Params)
		if err != nil {
			return cli.AsUsage(err)
		}
		_, err = io.WriteString(stdout, script)
		return err
	}
	return runQueries(ctx, c, qs, stdout)
}

// writeQueryList prints every query with the parameters it takes and its
// description, then the parameters.
func writeQueryList(w io.Writer, file *schema.QueryFile) error {
	var b strings.Builder
	for _, q := range file.Queries {
		names := make([]string, len(q.Params))
		for i, p := range q.Params {
			names[i] = p.Name
		}
		fmt.Fprintf(&b, "%s (%s)\n", q.Name, strings.Join(names, ", "))
		for l := range strings.SplitSeq(q.Doc, "\n") {
			fmt.Fprintln(&b, strings.TrimRight("    "+l, " "))
		}
		b.WriteByte('\n')
	}
	b.WriteString("Parameters (aggregator sql --param NAME=VALUE; clickhouse-client 19.x and later --param_NAME=VALUE):\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, p := range file.Params {
		def := "(required)"
		if p.HasDefault {
			def = p.Default
			if p.Type == "String" {
				def = schema.QuoteString(def)
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", p.Name, p.Type, def, p.Doc)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// runQueries runs qs, rendered with c's parameters, and prints each one's
// rows as a table under its name (the name only when there are several).
func runQueries(ctx context.Context, c sqlConfig, qs []schema.Query, w io.Writer) error {
	sqls, err := schema.Render(qs, c.Params)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	st, err := c.CH.openReadOnly(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	for i, q := range qs {
		if len(qs) > 1 {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "-- %s\n", q.Name)
		}
		rows, err := st.Conn().Query(ctx, sqls[i])
		if err != nil {
			return fmt.Errorf("query %s: %w (has `aggregator migrate` run?)", q.Name, err)
		}
		err = writeRows(w, rows)
		rows.Close()
		if err != nil {
			return fmt.Errorf("query %s: %w", q.Name, err)
		}
	}
	return nil
}

// writeRows prints rows as a table: a header of the column names in
// capitals, then one line per row; "(no rows)" when there is none. Cells
// are made printable (cellText).
func writeRows(w io.Writer, rows driver.Rows) error {
	types := rows.ColumnTypes()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	cells := make([]string, len(types))
	for i, ct := range types {
		cells[i] = strings.ToUpper(printable(ct.Name()))
	}
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
	n := 0
	for rows.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			return err
		}
		for i, v := range vals {
			cells[i] = cellText(reflect.ValueOf(v).Elem())
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(tw, "(no rows)")
	}
	return tw.Flush()
}

// cellText is a value as a table shows it: a time as YYYY-MM-DD hh:mm:ss
// in the zone the server sent it in, an array as [a, b], a NULL as NULL;
// control characters are escaped (\n, \t, \xHH, \uHHHH), so that a
// device's text cannot break the table or drive the terminal.
func cellText(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "NULL"
		}
		return cellText(v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 && v.Kind() == reflect.Slice {
			return printable(string(v.Bytes()))
		}
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = cellText(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	switch x := v.Interface().(type) {
	case time.Time:
		return x.Format(time.DateTime)
	case string:
		return printable(x)
	}
	return printable(fmt.Sprint(v.Interface()))
}

// printable escapes the control characters of s and its bytes that are not
// UTF-8.
func printable(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == unicode.ReplacementChar && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x100 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
