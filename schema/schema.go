// Package schema embeds cspwatch's ClickHouse migrations and admin queries.
//
// Migrations are files named NNN_name.sql, applied in order by
// internal/store. Each holds statements separated by ";" at the end of a
// line; every statement must be idempotent (IF NOT EXISTS), because
// ClickHouse has no transactional DDL and a migration cut off half-way is run
// again from its first statement. A column is added with one
// "ALTER TABLE t ADD COLUMN IF NOT EXISTS c Type" per column: 18.16 cannot
// parse that clause, so the runner adds the column only when
// system.columns lacks it, on every server. A first line "-- requires: X.Y" applies the
// migration only on server version X.Y or later.
//
// queries.sql holds the analyses an administrator runs, each tested against
// ClickHouse 18.16. They take ClickHouse query parameters, {name:Type} in
// their text, declared at the top of the file; ParseQueries reads the file
// and Render substitutes the parameters as literals, for servers and
// clients (18.16) that have no query parameters.
package schema

import (
	"embed"
	"fmt"
	"strings"
)

// FS holds every .sql file of this directory.
//
//go:embed *.sql
var FS embed.FS

// Queries returns the text of queries.sql.
func Queries() string {
	b, err := FS.ReadFile("queries.sql")
	if err != nil {
		panic("schema: queries.sql not embedded: " + err.Error())
	}
	return string(b)
}

// QueryFile is a parsed queries.sql: the parameters it declares and its
// queries, both in file order.
type QueryFile struct {
	Params  []Param
	Queries []Query
}

// Query is one analysis of queries.sql.
type Query struct {
	Name string
	// Doc is the comment under the query's name line, one line per line,
	// without the "--".
	Doc string
	// SQL is the statement without its final ";" and with its comments
	// removed; its placeholders are left as written ({name:Type}).
	SQL string
	// Params are the parameters SQL uses, in the order of their first use,
	// as the file declares them.
	Params []Param
	parts  []part
}

// part is a run of SQL text or, when param is set, one placeholder.
type part struct {
	text  string
	param string
	typ   string
}

// AdminQueries parses the embedded queries.sql. It panics when the file
// does not parse: a test parses it, so a build that passes its tests
// never does.
func AdminQueries() *QueryFile {
	f, err := ParseQueries(Queries())
	if err != nil {
		panic("schema: queries.sql: " + err.Error())
	}
	return f
}

// NamedQueries returns the queries of the embedded queries.sql (see
// AdminQueries).
func NamedQueries() []Query { return AdminQueries().Queries }

// Query returns the query called name.
func (f *QueryFile) Query(name string) (Query, bool) {
	for _, q := range f.Queries {
		if q.Name == name {
			return q, true
		}
	}
	return Query{}, false
}

// Names returns the names of the queries, in file order.
func (f *QueryFile) Names() []string {
	out := make([]string, len(f.Queries))
	for i, q := range f.Queries {
		out[i] = q.Name
	}
	return out
}

// ParseQueries parses the text of a queries file:
//
//   - before the first query, lines "-- param NAME Type [= DEFAULT] [text]"
//     declare the parameters (see Param); other comment lines are prose;
//   - a line "-- name: NAME" starts query NAME; the comment lines that
//     follow it, up to its statement, are its Doc;
//   - the statement runs to the first ";" outside a string literal, quoted
//     identifier or comment; only comments and blank lines may follow it
//     up to the next "-- name:" line;
//   - a placeholder {name:Type} (no spaces) outside literals and comments
//     stands for a declared parameter of that type; any other "{" is an
//     error.
//
// Every declared parameter must be used by some query. ParseQueries never
// panics; its errors name the line.
func ParseQueries(src string) (*QueryFile, error) {
	p := &parser{src: src, f: &QueryFile{}}
	if err := p.parse(); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return p.f, nil
}

type parser struct {
	src string
	f   *QueryFile
	cur *Query // the query being read, nil before the first
	// done is set once cur's statement has ended.
	done bool
	doc  []string
	// The statement being read.
	inStmt    bool
	parts     []part
	text      strings.Builder
	lineBlank bool // only whitespace since the statement's last newline
	lineStart int  // text.Len() at that newline
}

func (p *parser) line(i int) int { return 1 + strings.Count(p.src[:i], "\n") }

func (p *parser) errorf(i int, format string, args ...any) error {
	return fmt.Errorf("line %d: %s", p.line(i), fmt.Sprintf(format, args...))
}

func (p *parser) parse() error {
	src := p.src
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src)
			} else {
				end += i
			}
			if p.inStmt {
				if p.lineBlank {
					if _, ok := directive(src[i+2 : end]); ok {
						return p.errorf(i, "query %s has no ';' before this line", p.cur.Name)
					}
					// A comment line: drop it whole, newline included.
					p.truncateLine()
					i = min(end+1, len(src))
				} else {
					i = end
				}
				continue
			}
			if err := p.comment(i, src[i+2:end]); err != nil {
				return err
			}
			i = end
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return p.errorf(i, "unterminated /* comment")
			}
			if p.inStmt {
				p.text.WriteByte(' ')
			}
			i += 2 + end + 2
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if p.inStmt {
				p.text.WriteByte(c)
				if c == '\n' {
					p.lineBlank, p.lineStart = true, p.text.Len()
				}
			}
			i++
		default:
			if !p.inStmt {
				if p.cur == nil {
					return p.errorf(i, "SQL before the first -- name: line")
				}
				if p.done {
					return p.errorf(i, "text after the ';' of query %s", p.cur.Name)
				}
				p.inStmt = true
				p.cur.Doc = strings.Join(p.doc, "\n")
			}
			p.lineBlank = false
			switch c {
			case '\'', '"', '`':
				j, ok := skipQuoted(src, i)
				if !ok {
					return p.errorf(i, "unterminated %c", c)
				}
				p.text.WriteString(src[i:j])
				i = j
			case '{':
				name, typ, j, ok := placeholder(src, i)
				if !ok {
					return p.errorf(i, "'{' starts no {name:Type} placeholder")
				}
				p.flush()
				p.parts = append(p.parts, part{param: name, typ: typ})
				i = j
			case ';':
				if !p.endStatement() {
					return p.errorf(i, "query %s: empty statement", p.cur.Name)
				}
				i++
			default:
				p.text.WriteByte(c)
				i++
			}
		}
	}
	if p.inStmt {
		return fmt.Errorf("line %d: query %s has no ';' at its end", p.line(len(src)), p.cur.Name)
	}
	if p.cur != nil && !p.done {
		return fmt.Errorf("query %s has no statement", p.cur.Name)
	}
	if len(p.f.Queries) == 0 {
		return fmt.Errorf("no query (a query starts with a line -- name: NAME)")
	}
	return nil
}

// truncateLine drops the statement text since its last newline (only
// whitespace, as lineBlank says).
func (p *parser) truncateLine() {
	s := p.text.String()[:p.lineStart]
	p.text.Reset()
	p.text.WriteString(s)
}

func (p *parser) flush() {
	if p.text.Len() > 0 {
		p.parts = append(p.parts, part{text: p.text.String()})
		p.text.Reset()
	}
	p.lineStart = 0
}

// endStatement ends the current query's statement; it reports false when
// the statement is empty.
func (p *parser) endStatement() bool {
	p.flush()
	parts := p.parts
	// Trim the statement: leading and trailing blanks are not part of it.
	if len(parts) > 0 && parts[0].param == "" {
		parts[0].text = strings.TrimLeft(parts[0].text, " \t\r\n")
	}
	if n := len(parts); n > 0 && parts[n-1].param == "" {
		parts[n-1].text = strings.TrimRight(parts[n-1].text, " \t\r\n")
	}
	var b strings.Builder
	for _, pt := range parts {
		if pt.param != "" {
			b.WriteString("{" + pt.param + ":" + pt.typ + "}")
		} else {
			b.WriteString(pt.text)
		}
	}
	p.cur.SQL, p.cur.parts = b.String(), parts
	p.parts, p.inStmt, p.done = nil, false, true
	return p.cur.SQL != ""
}

// directive reports whether a comment's text is a "name:" or "param"
// line, and which.
func directive(comment string) (string, bool) {
	t := strings.TrimSpace(comment)
	if strings.HasPrefix(t, "name:") {
		return "name", true
	}
	if t == "param" || strings.HasPrefix(t, "param ") || strings.HasPrefix(t, "param\t") {
		return "param", true
	}
	return "", false
}

// comment handles a comment outside a statement, text after its "--".
func (p *parser) comment(i int, text string) error {
	t := strings.TrimSpace(text)
	kind, _ := directive(text)
	switch kind {
	case "name":
		name := strings.TrimSpace(strings.TrimPrefix(t, "name:"))
		if !isIdent(name) {
			return p.errorf(i, "query name %q is not a name (letters, digits, _)", name)
		}
		if p.cur != nil && !p.done {
			return p.errorf(i, "query %s has no statement", p.cur.Name)
		}
		if _, dup := p.f.Query(name); dup {
			return p.errorf(i, "query %s named twice", name)
		}
		p.f.Queries = append(p.f.Queries, Query{Name: name})
		p.cur, p.done, p.doc = &p.f.Queries[len(p.f.Queries)-1], false, nil
	case "param":
		if p.cur != nil {
			return p.errorf(i, "parameters are declared before the first query")
		}
		prm, err := parseParam(strings.TrimSpace(strings.TrimPrefix(t, "param")))
		if err != nil {
			return p.errorf(i, "%v", err)
		}
		for _, q := range p.f.Params {
			if q.Name == prm.Name {
				return p.errorf(i, "parameter %s declared twice", prm.Name)
			}
		}
		p.f.Params = append(p.f.Params, prm)
	default:
		if p.cur != nil && !p.done {
			p.doc = append(p.doc, strings.TrimPrefix(strings.TrimRight(text, " \t\r"), " "))
		}
	}
	return nil
}

// check ties every placeholder to its declaration.
func (p *parser) check() error {
	decl := map[string]Param{}
	used := map[string]bool{}
	for _, prm := range p.f.Params {
		decl[prm.Name] = prm
	}
	for qi := range p.f.Queries {
		q := &p.f.Queries[qi]
		seen := map[string]bool{}
		for _, pt := range q.parts {
			if pt.param == "" {
				continue
			}
			prm, ok := decl[pt.param]
			if !ok {
				return fmt.Errorf("query %s: parameter {%s:%s} is not declared (-- param %s %s)", q.Name, pt.param, pt.typ, pt.param, pt.typ)
			}
			if prm.Type != pt.typ {
				return fmt.Errorf("query %s: parameter {%s:%s} is declared %s", q.Name, pt.param, pt.typ, prm.Type)
			}
			used[pt.param] = true
			if !seen[pt.param] {
				seen[pt.param] = true
				q.Params = append(q.Params, prm)
			}
		}
	}
	for _, prm := range p.f.Params {
		if !used[prm.Name] {
			return fmt.Errorf("parameter %s is declared but no query uses it", prm.Name)
		}
	}
	return nil
}

// skipQuoted returns the index after the literal or quoted identifier that
// starts at src[i] (', " or `), which ends at the same quote not escaped
// by a backslash and not doubled. ok is false when it does not end.
func skipQuoted(src string, i int) (int, bool) {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case q:
			if j+1 < len(src) && src[j+1] == q {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return len(src), false
}

// placeholder reads {name:Type} at src[i].
func placeholder(src string, i int) (name, typ string, end int, ok bool) {
	j := i + 1
	n := identLen(src[j:])
	if n == 0 || j+n >= len(src) || src[j+n] != ':' {
		return "", "", 0, false
	}
	name = src[j : j+n]
	j += n + 1
	n = identLen(src[j:])
	if n == 0 || j+n >= len(src) || src[j+n] != '}' {
		return "", "", 0, false
	}
	return name, src[j : j+n], j + n + 1, true
}

// identLen is the length of the identifier ([A-Za-z_][A-Za-z0-9_]*) that
// s starts with.
func identLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && '0' <= c && c <= '9':
		default:
			return i
		}
	}
	return len(s)
}

func isIdent(s string) bool { return s != "" && identLen(s) == len(s) }
