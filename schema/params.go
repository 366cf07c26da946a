package schema

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Param is a parameter declared in a queries file by a line
//
//	-- param NAME Type [= DEFAULT] [description]
//
// Type is one of Types. DEFAULT is written as a ClickHouse literal: a
// String's in single quotes (two quotes for the empty string), any other
// bare (24, 2026-01-02). A parameter without a default must be given.
//
// ClickHouse's own clients (19.x and later) know no defaults: given the file
// with --param_NAME=VALUE, they need every parameter of every query.
type Param struct {
	Name       string
	Type       string
	Default    string // the value, unquoted, when HasDefault
	HasDefault bool
	Doc        string
}

// Types are the parameter types Literal renders.
var Types = []string{"String", "UInt8", "UInt16", "UInt32", "UInt64", "Int8", "Int16", "Int32", "Int64", "Date", "DateTime"}

// Errors of Render, each wrapped with the parameter it is about.
var (
	// ErrUnknownParam: a value for a parameter that none of the queries takes.
	ErrUnknownParam = errors.New("unknown parameter")
	// ErrMissingParam: a parameter with no default was not given.
	ErrMissingParam = errors.New("missing parameter")
	// ErrBadParam: a value that is not one of its type.
	ErrBadParam = errors.New("bad parameter value")
)

// String is the declaration as written in the file, without "-- param".
func (p Param) String() string {
	s := p.Name + " " + p.Type
	if p.HasDefault {
		d := p.Default
		if p.Type == "String" {
			d = QuoteString(d)
		}
		s += " = " + d
	}
	return s
}

// parseParam reads a declaration's text after "param".
func parseParam(s string) (Param, error) {
	var p Param
	next := func() string {
		s = strings.TrimLeft(s, " \t")
		n := strings.IndexAny(s, " \t")
		if n < 0 {
			n = len(s)
		}
		tok := s[:n]
		s = s[n:]
		return tok
	}
	p.Name, p.Type = next(), next()
	if !isIdent(p.Name) {
		return p, fmt.Errorf("param: %q is not a name (letters, digits, _)", p.Name)
	}
	if !slices.Contains(Types, p.Type) {
		return p, fmt.Errorf("param %s: type %q is none of %s", p.Name, p.Type, strings.Join(Types, ", "))
	}
	s = strings.TrimLeft(s, " \t")
	if rest, ok := strings.CutPrefix(s, "="); ok {
		s = strings.TrimLeft(rest, " \t")
		var def string
		if strings.HasPrefix(s, "'") {
			end, ok := skipQuoted(s, 0)
			if !ok {
				return p, fmt.Errorf("param %s: unterminated default %s", p.Name, s)
			}
			v, err := UnquoteString(s[:end])
			if err != nil {
				return p, fmt.Errorf("param %s: default %s: %w", p.Name, s[:end], err)
			}
			if p.Type != "String" {
				return p, fmt.Errorf("param %s: a %s default is not quoted", p.Name, p.Type)
			}
			def, s = v, s[end:]
		} else {
			if p.Type == "String" {
				return p, fmt.Errorf("param %s: a String default is quoted ('' for the empty string)", p.Name)
			}
			def = next()
			if def == "" {
				return p, fmt.Errorf("param %s: no default after '='", p.Name)
			}
		}
		if _, err := Literal(p.Type, def); err != nil {
			return p, fmt.Errorf("param %s: default: %w", p.Name, err)
		}
		p.Default, p.HasDefault = def, true
	}
	p.Doc = strings.TrimSpace(s)
	return p, nil
}

// Literal returns value as a ClickHouse literal of type typ, safe to put
// where a {name:typ} placeholder stands: a String is quoted and escaped
// (QuoteString), an integer is checked against its type's range and written
// in decimal (a negative one in parentheses), a Date (YYYY-MM-DD) is
// toDate('...'), a DateTime toDateTime(...) of "YYYY-MM-DD hh:mm:ss" (the
// server's time zone, as clickhouse-client reads it), of Unix seconds, or
// of an RFC 3339 time (converted to Unix seconds). Anything else is an
// error; the literal never holds text of value outside a quoted string.
func Literal(typ, value string) (string, error) {
	switch typ {
	case "String":
		return QuoteString(value), nil
	case "UInt8", "UInt16", "UInt32", "UInt64":
		bits, _ := strconv.Atoi(typ[4:])
		n, err := strconv.ParseUint(value, 10, bits)
		if err != nil {
			return "", fmt.Errorf("%q is not a %s", value, typ)
		}
		return strconv.FormatUint(n, 10), nil
	case "Int8", "Int16", "Int32", "Int64":
		bits, _ := strconv.Atoi(typ[3:])
		n, err := strconv.ParseInt(value, 10, bits)
		if err != nil {
			return "", fmt.Errorf("%q is not an %s", value, typ)
		}
		if n < 0 {
			return "(" + strconv.FormatInt(n, 10) + ")", nil
		}
		return strconv.FormatInt(n, 10), nil
	case "Date":
		d, err := time.Parse(time.DateOnly, value)
		if err != nil || d.Year() < 1970 || d.Year() > 2105 {
			return "", fmt.Errorf("%q is not a Date (YYYY-MM-DD, 1970 to 2105)", value)
		}
		return "toDate('" + d.Format(time.DateOnly) + "')", nil
	case "DateTime":
		if n, err := strconv.ParseUint(value, 10, 32); err == nil {
			return "toDateTime(" + strconv.FormatUint(n, 10) + ")", nil
		}
		if t, err := time.Parse(time.DateTime, value); err == nil && t.Year() >= 1970 && t.Year() <= 2105 {
			return "toDateTime('" + t.Format(time.DateTime) + "')", nil
		}
		if t, err := time.Parse(time.RFC3339, value); err == nil && t.Unix() >= 0 && t.Unix() <= 1<<32-1 {
			return "toDateTime(" + strconv.FormatInt(t.Unix(), 10) + ")", nil
		}
		return "", fmt.Errorf("%q is not a DateTime (YYYY-MM-DD hh:mm:ss, Unix seconds or RFC 3339)", value)
	}
	return "", fmt.Errorf("type %q is none of %s", typ, strings.Join(Types, ", "))
}

// QuoteString returns s as a single-quoted ClickHouse string literal that
// reads back as s on every server version: ' and \ are escaped, newline,
// tab, carriage return and NUL written \n \t \r \0, every other control
// byte and every byte that is not part of valid UTF-8 as \xHH. The literal
// is valid UTF-8 and has no raw control character.
func QuoteString(s string) string {
	const hexDigits = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[s[i]>>4])
			b.WriteByte(hexDigits[s[i]&0xF])
		case r == '\'':
			b.WriteString(`\'`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == 0:
			b.WriteString(`\0`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[r>>4])
			b.WriteByte(hexDigits[r&0xF])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('\'')
	return b.String()
}

// UnquoteString reads a single-quoted string literal as QuoteString writes
// it, also accepting a doubled quote (”), \b, \f, \v, \a and a backslash
// before any other character (which stands for that character).
func UnquoteString(lit string) (string, error) {
	if len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
		return "", fmt.Errorf("%q is not a quoted string", lit)
	}
	s := lit[1 : len(lit)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\'':
			if i+1 >= len(s) || s[i+1] != '\'' {
				return "", fmt.Errorf("unescaped ' in %q", lit)
			}
			b.WriteByte('\'')
			i++
		case '\\':
			if i+1 >= len(s) {
				return "", fmt.Errorf("%q ends with a backslash", lit)
			}
			i++
			switch e := s[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'v':
				b.WriteByte('\v')
			case 'a':
				b.WriteByte('\a')
			case 'x':
				if i+2 >= len(s) {
					return "", fmt.Errorf("short \\x escape in %q", lit)
				}
				v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
				if err != nil {
					return "", fmt.Errorf("bad \\x escape in %q", lit)
				}
				b.WriteByte(byte(v))
				i += 2
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// Render returns the SQL of each query of qs with every placeholder
// replaced by the Literal of its parameter's value: the value in args, else
// the parameter's default. It fails, wrapping ErrUnknownParam, when args
// names a parameter none of qs takes; ErrMissingParam when a parameter has
// neither (naming every one missing); ErrBadParam when a value is not of
// its type. On error nothing is rendered.
func Render(qs []Query, args map[string]string) ([]string, error) {
	takes := map[string]Param{}
	var names []string
	users := map[string][]string{}
	for _, q := range qs {
		for _, p := range q.Params {
			if _, ok := takes[p.Name]; !ok {
				takes[p.Name] = p
				names = append(names, p.Name)
			}
			users[p.Name] = append(users[p.Name], q.Name)
		}
	}
	var unknown []string
	for k := range args {
		if _, ok := takes[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		taken := "none"
		if len(names) > 0 {
			taken = strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("%w %s (these queries take: %s)", ErrUnknownParam, strings.Join(unknown, ", "), taken)
	}
	lits := map[string]string{}
	var missing []string
	for _, n := range names {
		p := takes[n]
		v, ok := args[n]
		if !ok && !p.HasDefault {
			missing = append(missing, fmt.Sprintf("%s (%s, for %s)", n, p.Type, strings.Join(users[n], ", ")))
			continue
		}
		if !ok {
			v = p.Default
		}
		lit, err := Literal(p.Type, v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadParam, n, err)
		}
		lits[n] = lit
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w %s", ErrMissingParam, strings.Join(missing, "; "))
	}
	out := make([]string, len(qs))
	for i, q := range qs {
		var b strings.Builder
		for _, pt := range q.parts {
			if pt.param != "" {
				b.WriteString(lits[pt.param])
			} else {
				b.WriteString(pt.text)
			}
		}
		out[i] = b.String()
	}
	return out, nil
}

// Render renders q alone (see the function Render).
func (q Query) Render(args map[string]string) (string, error) {
	out, err := Render([]Query{q}, args)
	if err != nil {
		return "", err
	}
	return out[0], nil
}

// Script renders qs (see Render) as a file clickhouse-client --multiquery
// runs on any version: for each query its "-- name:" line, its Doc as
// comments, and its statement ending with ";". Script of queries without
// parameters parses back with ParseQueries to the same names, docs and SQL.
func Script(qs []Query, args map[string]string) (string, error) {
	sqls, err := Render(qs, args)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i, q := range qs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("-- name: " + q.Name + "\n")
		if q.Doc != "" {
			for l := range strings.SplitSeq(q.Doc, "\n") {
				b.WriteString(strings.TrimRight("-- "+l, " ") + "\n")
			}
		}
		b.WriteString(sqls[i] + ";\n")
	}
	return b.String(), nil
}
