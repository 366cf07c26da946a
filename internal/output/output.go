// Package output writes what a command prints in the format its user asked
// for: aligned tables for a terminal, CSV for a spreadsheet, JSON for a
// program. A command builds titled Tables of columns and rows once and hands
// them to WriteTables or WriteCSV; for JSON it marshals its own document
// (WriteJSON), since a program wants numbers, nesting and stable keys that
// a table of cells does not carry.
//
// Every writer is a single pass over the rows with no I/O beyond w: the cost
// is the output's size.
package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// Format is an output format of a command's --format flag. Its zero value
// is not a format: use ParseFormat, or set a default before parsing flags.
type Format string

// The formats.
const (
	// FormatTable is aligned columns under a title, for a terminal.
	FormatTable Format = "table"
	// FormatJSON is one indented JSON document.
	FormatJSON Format = "json"
	// FormatCSV is RFC 4180 CSV: one header line, then one line per row.
	FormatCSV Format = "csv"
)

// Formats lists the formats, the default (FormatTable) first.
func Formats() []Format { return []Format{FormatTable, FormatJSON, FormatCSV} }

// FormatUsage is the usage text of a --format flag.
const FormatUsage = "output format: table, json or csv"

// ParseFormat returns the format named s (case-insensitive, surrounding
// space ignored), or an error naming the formats there are.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if err := f.Validate(); err != nil {
		return "", err
	}
	return f, nil
}

// Validate reports whether f is one of Formats.
func (f Format) Validate() error {
	for _, g := range Formats() {
		if f == g {
			return nil
		}
	}
	return fmt.Errorf("format %q: want table, json or csv", string(f))
}

// String returns the format's name.
func (f Format) String() string { return string(f) }

// Set parses s into f, so that a *Format is a flag.Value:
//
//	c.Format = output.FormatTable
//	fs.Var(&c.Format, "format", output.FormatUsage)
func (f *Format) Set(s string) error {
	g, err := ParseFormat(s)
	if err != nil {
		return fmt.Errorf("want table, json or csv, got %q", s)
	}
	*f = g
	return nil
}

var _ flag.Value = (*Format)(nil)

// Column is one column of a Table.
type Column struct {
	// Name is the column's machine name, lower_snake_case: the CSV header,
	// and by convention the key of the same value in the command's JSON.
	// One thing has one name in every table, so that a spreadsheet joins
	// two CSV files on it: a product's name is product (name is a code's),
	// a device is device_id, a target target_id.
	Name string
	// Title is the terminal header; empty means Name upper-cased with '_'
	// as a space ("failed_attempts" is "FAILED ATTEMPTS").
	Title string
}

// header is the column's terminal header.
func (c Column) header() string {
	if c.Title != "" {
		return c.Title
	}
	return strings.ToUpper(strings.ReplaceAll(c.Name, "_", " "))
}

// Table is a titled table of columns and rows.
//
// A cell is any value; the writers render it by its type:
//   - string: as is; the table format shows an empty string as "-";
//   - signed and unsigned integers, bool: in decimal, true or false;
//   - float64, float32: the shortest representation that reads back the same;
//   - time.Time: RFC 3339 in UTC (a zero time is empty);
//   - time.Duration: the table format rounds it to the second and drops
//     zero trailing units ("10h0m" is "10h"); CSV writes whole seconds, so
//     a column of durations should be named "..._seconds";
//   - fmt.Stringer: its String; anything else: fmt.Sprint.
type Table struct {
	// Name is the table's machine name (such as "products"): what a
	// command's --table flag selects, and its key in the command's JSON.
	Name string
	// Title is the line the table format prints above the table.
	Title string
	// Empty is what the table format prints instead of the header when
	// there is no row ("none" when empty).
	Empty   string
	Columns []Column
	Rows    [][]any
}

// NewTable returns a table of the named columns (see Column.Name); a
// name of the form "name:TITLE" gives the column its terminal title.
func NewTable(name, title string, columns ...string) *Table {
	t := &Table{Name: name, Title: title}
	for _, c := range columns {
		n, ttl, _ := strings.Cut(c, ":")
		t.Columns = append(t.Columns, Column{Name: n, Title: ttl})
	}
	return t
}

// Add appends a row. It does not check the number of cells: the writers
// do, and refuse a table whose row does not match its columns.
func (t *Table) Add(cells ...any) { t.Rows = append(t.Rows, cells) }

// check reports a row whose length does not match the columns.
func (t *Table) check() error {
	for i, r := range t.Rows {
		if len(r) != len(t.Columns) {
			return fmt.Errorf("table %s: row %d has %d cells for %d columns", t.Name, i, len(r), len(t.Columns))
		}
	}
	return nil
}

// WriteTables writes tables for a terminal, in order, a blank line between
// two: each its title, then the header and rows aligned in columns two
// spaces apart, or its Empty text when it has no row. Control characters
// in a cell (a device-reported name can hold tabs, newlines or terminal
// escapes) are written as spaces, so that one cell cannot break the
// alignment or drive the terminal. Nothing is written when a table's rows
// do not match its columns.
func WriteTables(w io.Writer, tables ...*Table) error {
	for _, t := range tables {
		if err := t.check(); err != nil {
			return err
		}
	}
	var b bytes.Buffer
	for i, t := range tables {
		if i > 0 {
			b.WriteByte('\n')
		}
		if t.Title != "" {
			b.WriteString(terminalText(t.Title) + "\n")
		}
		if len(t.Rows) == 0 {
			empty := t.Empty
			if empty == "" {
				empty = "none"
			}
			b.WriteString(terminalText(empty) + "\n")
			continue
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		cells := make([]string, len(t.Columns))
		for j, c := range t.Columns {
			cells[j] = terminalText(c.header())
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
		for _, r := range t.Rows {
			for j, v := range r {
				s := terminalText(tableCell(v))
				if s == "" {
					s = "-"
				}
				cells[j] = s
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteCSV writes t as CSV: a header of the column names, then one record
// per row (see Table for how cells are written). The title is not written.
// A text cell that a spreadsheet would run as a formula (one that starts
// with '=', '+', '-' or '@' and is not a number, or with a tab or a
// carriage return) is written with a leading single quote, since names and
// ids come from devices. Nothing is written when a row does not match the
// columns.
func WriteCSV(w io.Writer, t *Table) error {
	if err := t.check(); err != nil {
		return err
	}
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	rec := make([]string, len(t.Columns))
	for j, c := range t.Columns {
		rec[j] = c.Name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	for _, r := range t.Rows {
		for j, v := range r {
			rec[j] = csvCell(v)
		}
		if len(rec) == 1 && rec[0] == "" {
			// encoding/csv writes a lone empty field as an empty line,
			// which readers skip: write it quoted.
			cw.Flush()
			b.WriteString("\"\"\n")
			continue
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteJSON writes v as one JSON document indented by two spaces, followed
// by a newline, with '<', '>' and '&' written as they are (the output is
// not meant for an HTML page). Nothing is written when v does not marshal.
func WriteJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// tableCell is v as the table format shows it.
func tableCell(v any) string {
	if d, ok := v.(time.Duration); ok {
		return ShortDuration(d)
	}
	return text(v)
}

// csvCell is v as CSV writes it.
func csvCell(v any) string {
	switch x := v.(type) {
	case time.Duration:
		return strconv.FormatInt(int64(x.Round(time.Second)/time.Second), 10)
	case string:
		return defuse(x)
	}
	s := text(v)
	if _, ok := v.(fmt.Stringer); ok {
		return defuse(s)
	}
	return s
}

// text is v's common rendering (see Table).
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case uint:
		return strconv.FormatUint(uint64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case uint8:
		return strconv.FormatUint(uint64(x), 10)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(time.RFC3339)
	case time.Duration:
		return x.String()
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// ShortDuration is d rounded to the second without zero trailing units, as
// the table format writes a duration: 10h0m0s is "10h", 1h30m0s "1h30m",
// 0 "0s".
func ShortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// terminalText replaces the control characters of s with spaces.
func terminalText(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// defuse prefixes with a single quote a text cell that a spreadsheet would
// read as a formula.
func defuse(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@':
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return s
		}
	case '\t', '\r':
	default:
		return s
	}
	return "'" + s
}
