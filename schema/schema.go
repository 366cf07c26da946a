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
// ClickHouse 18.16.
package schema

import (
	"embed"
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

// Query is one analysis of queries.sql.
type Query struct {
	Name string
	// SQL is the statement without its final ";", comments removed.
	SQL string
}

// NamedQueries parses queries.sql: each "-- name: X" line starts query X,
// which runs to the next ";" at the end of a line.
func NamedQueries() []Query {
	var out []Query
	var cur *Query
	var b strings.Builder
	for line := range strings.SplitSeq(Queries(), "\n") {
		t := strings.TrimSpace(line)
		if name, ok := strings.CutPrefix(t, "-- name:"); ok {
			out = append(out, Query{Name: strings.TrimSpace(name)})
			cur = &out[len(out)-1]
			b.Reset()
			continue
		}
		if cur == nil || t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			cur.SQL = strings.TrimSuffix(strings.TrimSpace(b.String()), ";")
			cur = nil
		}
	}
	return out
}
