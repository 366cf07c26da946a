package schema

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// The embedded queries.sql parses, declares what its header says, and every
// query has a name, a description and a statement.
func TestAdminQueriesParse(t *testing.T) {
	f, err := ParseQueries(Queries())
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"failure_rate_by_product_version", "top_causes", "failures_by_product_and_cause",
		"stuck_attempts", "causes_new_in_last_hour", "device_history", "devices_failing_product_now"}
	if got := f.Names(); !slices.Equal(got, wantNames) {
		t.Errorf("queries %q, want %q", got, wantNames)
	}
	var params []string
	for _, p := range f.Params {
		params = append(params, p.String())
	}
	wantParams := []string{"tenant String = ''", "since_hours UInt32 = 24", "stuck_hours UInt32 = 4",
		"baseline_days UInt32 = 7", "device_id String", "product String"}
	if !slices.Equal(params, wantParams) {
		t.Errorf("params %q, want %q", params, wantParams)
	}
	for _, q := range f.Queries {
		if q.Doc == "" || q.SQL == "" || len(q.Params) == 0 {
			t.Errorf("query %s: doc %q, %d params, SQL %q", q.Name, q.Doc, len(q.Params), q.SQL)
		}
		if strings.Contains(q.SQL, "--") || strings.HasSuffix(q.SQL, ";") {
			t.Errorf("query %s keeps a comment or its ';':\n%s", q.Name, q.SQL)
		}
		// Every query can be rendered with the parameters that have no
		// default, and then holds no placeholder.
		args := map[string]string{}
		for _, p := range q.Params {
			if !p.HasDefault {
				args[p.Name] = "x"
			}
		}
		sql, err := q.Render(args)
		if err != nil {
			t.Errorf("query %s: %v", q.Name, err)
		}
		if strings.Contains(sql, "{") {
			t.Errorf("query %s rendered keeps a '{':\n%s", q.Name, sql)
		}
	}
	dh, _ := f.Query("device_history")
	var dhParams []string
	for _, p := range dh.Params {
		dhParams = append(dhParams, p.Name)
	}
	if !slices.Equal(dhParams, []string{"device_id", "tenant"}) {
		t.Errorf("device_history takes %q", dhParams)
	}
}

const sample = `-- a prose header
-- param tenant String = 'it''s\n'   the tenant
-- param n UInt32 = 5
-- param dev String     the device

-- name: one
-- Counts.
--
-- Really.
SELECT count() -- inline comment
-- a comment line inside the statement
FROM t WHERE tenant = {tenant:String} AND x = '{not:Param};' AND "a;b" = 1 /* {nor:This} */
    AND n > {n:UInt32};
-- trailing remark

-- name: two
SELECT {dev:String}, {tenant:String};
`

func TestParseQueriesSample(t *testing.T) {
	f, err := ParseQueries(sample)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Params) != 3 || f.Params[0].Default != "it's\n" || f.Params[0].Doc != "the tenant" ||
		f.Params[1].Default != "5" || !f.Params[1].HasDefault || f.Params[2].HasDefault || f.Params[2].Doc != "the device" {
		t.Fatalf("params %+v", f.Params)
	}
	one, _ := f.Query("one")
	wantSQL := "SELECT count() \nFROM t WHERE tenant = {tenant:String} AND x = '{not:Param};' AND \"a;b\" = 1  \n    AND n > {n:UInt32}"
	if one.SQL != wantSQL {
		t.Errorf("SQL\n%q\nwant\n%q", one.SQL, wantSQL)
	}
	if one.Doc != "Counts.\n\nReally." {
		t.Errorf("doc %q", one.Doc)
	}
	got, err := one.Render(map[string]string{"n": "7"})
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT count() \nFROM t WHERE tenant = 'it\\'s\\n' AND x = '{not:Param};' AND \"a;b\" = 1  \n    AND n > 7"
	if got != want {
		t.Errorf("rendered\n%q\nwant\n%q", got, want)
	}
	two, _ := f.Query("two")
	if _, err := two.Render(nil); !errors.Is(err, ErrMissingParam) || !strings.Contains(err.Error(), "dev (String, for two)") {
		t.Errorf("two without dev: %v", err)
	}
	if _, err := two.Render(map[string]string{"dev": "d", "n": "1"}); !errors.Is(err, ErrUnknownParam) {
		t.Errorf("two with n: %v", err)
	}
	// Together, the queries take n.
	out, err := Render(f.Queries, map[string]string{"dev": "d'1", "n": "1", "tenant": `a\b`})
	if err != nil {
		t.Fatal(err)
	}
	if out[1] != `SELECT 'd\'1', 'a\\b'` {
		t.Errorf("two: %q", out[1])
	}
}

func TestParseQueriesErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "no query"},
		{"sql before a name", "SELECT 1;\n", "line 1: SQL before the first -- name: line"},
		{"no semicolon", "-- name: a\nSELECT 1\n", "query a has no ';' at its end"},
		{"no semicolon before next", "-- name: a\nSELECT 1\n-- name: b\nSELECT 2;\n", "line 3: query a has no ';' before this line"},
		{"no statement", "-- name: a\n-- name: b\nSELECT 2;\n", "line 2: query a has no statement"},
		{"no statement at end", "-- name: a\nSELECT 1;\n-- name: b\n", "query b has no statement"},
		{"empty statement", "-- name: a\n  ;\n", "query a: empty statement"},
		{"text after", "-- name: a\nSELECT 1; SELECT 2;\n", "line 2: text after the ';' of query a"},
		{"duplicate", "-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n", "query a named twice"},
		{"bad name", "-- name: a b\nSELECT 1;\n", "is not a name"},
		{"unterminated string", "-- name: a\nSELECT 'x;\n", "unterminated '"},
		{"unterminated comment", "-- name: a\nSELECT /* x;\n", "unterminated /*"},
		{"stray brace", "-- name: a\nSELECT {x};\n", "no {name:Type} placeholder"},
		{"spaced placeholder", "-- param x UInt8\n-- name: a\nSELECT { x:UInt8 };\n", "no {name:Type} placeholder"},
		{"undeclared", "-- name: a\nSELECT {x:UInt8};\n", "parameter {x:UInt8} is not declared"},
		{"wrong type", "-- param x UInt8\n-- name: a\nSELECT {x:String};\n", "{x:String} is declared UInt8"},
		{"unused", "-- param x UInt8\n-- name: a\nSELECT 1;\n", "parameter x is declared but no query uses it"},
		{"param after a query", "-- name: a\nSELECT 1;\n-- param x UInt8\n", "line 3: parameters are declared before the first query"},
		{"param twice", "-- param x UInt8\n-- param x UInt8\n", "parameter x declared twice"},
		{"unknown type", "-- param x Float64\n", `type "Float64" is none of`},
		{"bad param name", "-- param 1x UInt8\n", "is not a name"},
		{"bad default", "-- param x UInt8 = 300\n", `default: "300" is not a UInt8`},
		{"unquoted string default", "-- param x String = abc\n", "a String default is quoted"},
		{"quoted number default", "-- param x UInt8 = '3'\n", "a UInt8 default is not quoted"},
		{"no default", "-- param x UInt8 =\n", "no default after '='"},
		{"unterminated default", "-- param x String = 'abc\n", "unterminated default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseQueries(tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLiteral(t *testing.T) {
	tests := []struct {
		typ, value, want string // want "" is an error
	}{
		{"String", "contoso", "'contoso'"},
		{"String", "", "''"},
		{"String", `x' OR 1=1 --`, `'x\' OR 1=1 --'`},
		{"String", `back\slash`, `'back\\slash'`},
		{"String", "a\nb\tc\rd\x00e\x01f\x7fg", `'a\nb\tc\rd\0e\x01f\x7fg'`},
		{"String", "caf\xc3\xa9 \xff", `'café \xff'`},
		{"UInt8", "255", "255"},
		{"UInt8", "256", ""},
		{"UInt8", "-1", ""},
		{"UInt32", "007", "7"},
		{"UInt32", "24 OR 1", ""},
		{"UInt32", "+1", ""},
		{"UInt32", "0x10", ""},
		{"UInt32", "", ""},
		{"UInt64", "18446744073709551615", "18446744073709551615"},
		{"Int8", "-128", "(-128)"},
		{"Int8", "128", ""},
		{"Int64", "42", "42"},
		{"Int32", "1.5", ""},
		{"Date", "2026-01-02", "toDate('2026-01-02')"},
		{"Date", "2026-02-30", ""},
		{"Date", "2026-1-2", ""},
		{"DateTime", "2026-01-02 03:04:05", "toDateTime('2026-01-02 03:04:05')"},
		{"DateTime", "1700000000", "toDateTime(1700000000)"},
		{"DateTime", "2023-11-14T23:13:20+01:00", "toDateTime(1700000000)"},
		{"DateTime", "2026-01-02", ""},
		{"DateTime", "now()", ""},
		{"DateTime", "1969-12-31T23:59:59Z", ""},
		{"Float64", "1", ""},
	}
	for _, tt := range tests {
		got, err := Literal(tt.typ, tt.value)
		if tt.want == "" {
			if err == nil {
				t.Errorf("Literal(%s, %q) = %s, want an error", tt.typ, tt.value, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Literal(%s, %q) = %s, %v; want %s", tt.typ, tt.value, got, err, tt.want)
		}
	}
}

func TestUnquoteString(t *testing.T) {
	for lit, want := range map[string]string{
		`''`:             "",
		`'it''s'`:        "it's",
		`'a\'b\\c'`:      `a'b\c`,
		`'\x41\n\t\0\%'`: "A\n\t\x00%",
	} {
		if got, err := UnquoteString(lit); err != nil || got != want {
			t.Errorf("UnquoteString(%s) = %q, %v; want %q", lit, got, err, want)
		}
	}
	for _, bad := range []string{``, `'`, `abc`, `'a'b'`, `'a\'`, `'\x4'`, `'\xzz'`} {
		if got, err := UnquoteString(bad); err == nil {
			t.Errorf("UnquoteString(%s) = %q, want an error", bad, got)
		}
	}
}

// A script of rendered queries is a file that parses back to the same
// queries, with no parameter left.
func TestScriptParsesBack(t *testing.T) {
	f := AdminQueries()
	script, err := Script(f.Queries, map[string]string{"device_id": "d'1", "product": "App\nA"})
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseQueries(script)
	if err != nil {
		t.Fatalf("%v\n%s", err, script)
	}
	if len(back.Params) != 0 || !slices.Equal(back.Names(), f.Names()) {
		t.Fatalf("parsed back: %d params, names %q", len(back.Params), back.Names())
	}
	for i, q := range back.Queries {
		if q.Doc != f.Queries[i].Doc || strings.Count(script, ";\n") != len(f.Queries) {
			t.Errorf("query %s: doc %q, want %q", q.Name, q.Doc, f.Queries[i].Doc)
		}
	}
	if !strings.Contains(script, `device_id = 'd\'1'`) || !strings.Contains(script, `'App\nA'`) {
		t.Errorf("script:\n%s", script)
	}
}

// FuzzParseQueries: ParseQueries never panics; a file it accepts renders
// (with every parameter set to the fuzzed value where that is of its type)
// into a script that parses back to the same queries, docs and rendered
// SQL, with no parameter; a String value reads back from its literal.
func FuzzParseQueries(f *testing.F) {
	f.Add(sample, "contoso")
	f.Add(Queries(), "d'1\\")
	f.Add("-- param a Int8 = -3\n-- name: q\nSELECT {a:Int8} - {a:Int8};\n", "-5")
	f.Add("-- param t DateTime\n-- name: q\nSELECT 1 WHERE x >= {t:DateTime} -- c\n;\n", "2026-01-02 03:04:05")
	f.Add("-- name: q\nSELECT '--', \"--\", `;` /* ; */;\n", "\xff\x00")
	f.Fuzz(func(t *testing.T, src, value string) {
		lit := QuoteString(value)
		if got, err := UnquoteString(lit); err != nil || got != value {
			t.Fatalf("UnquoteString(QuoteString(%q)) = %q, %v", value, got, err)
		}
		if end, ok := skipQuoted(lit, 0); !ok || end != len(lit) || !utf8.ValidString(lit) {
			t.Fatalf("QuoteString(%q) = %s does not scan as one literal", value, lit)
		}
		qf, err := ParseQueries(src)
		if err != nil {
			return
		}
		args := map[string]string{}
		for _, p := range qf.Params {
			if _, err := Literal(p.Type, value); err == nil {
				args[p.Name] = value
			} else if !p.HasDefault {
				args[p.Name] = map[string]string{"Date": "2026-01-02", "DateTime": "0", "String": ""}[p.Type]
				if args[p.Name] == "" && p.Type != "String" {
					args[p.Name] = "1"
				}
			}
		}
		sqls, err := Render(qf.Queries, args)
		if err != nil {
			t.Fatalf("render %v: %v", args, err)
		}
		script, err := Script(qf.Queries, args)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseQueries(script)
		if err != nil {
			t.Fatalf("script does not parse: %v\n%s", err, script)
		}
		if len(back.Params) != 0 || len(back.Queries) != len(qf.Queries) {
			t.Fatalf("script parses to %d params, %d queries, want 0, %d", len(back.Params), len(back.Queries), len(qf.Queries))
		}
		for i, q := range back.Queries {
			if q.Name != qf.Queries[i].Name || q.Doc != qf.Queries[i].Doc || q.SQL != sqls[i] || len(q.Params) != 0 {
				t.Fatalf("query %d parses back as %+v\nwant name %s doc %q SQL %q", i, q, qf.Queries[i].Name, qf.Queries[i].Doc, sqls[i])
			}
		}
	})
}
