package store

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestParseAddColumn(t *testing.T) {
	tests := []struct {
		in, table, column, plain string
		bad                      bool
	}{
		{in: "CREATE TABLE IF NOT EXISTS t (a String) ENGINE = Memory"},
		{in: "ALTER TABLE install_events ADD INDEX IF NOT EXISTS i event_id TYPE bloom_filter(0.01) GRANULARITY 4"},
		{in: "ALTER TABLE install_events ADD COLUMN x String"},
		{in: "ALTER TABLE install_events ADD COLUMN IF NOT EXISTS msi_job_content_urls Array(String)",
			table: "install_events", column: "msi_job_content_urls", plain: "ALTER TABLE install_events ADD COLUMN msi_job_content_urls Array(String)"},
		{in: "alter table t\n  add column if not exists c Int64 DEFAULT 0",
			table: "t", column: "c", plain: "ALTER TABLE t ADD COLUMN c Int64 DEFAULT 0"},
		{in: "ALTER TABLE t ADD COLUMN IF NOT EXISTS a String, ADD COLUMN IF NOT EXISTS b String", bad: true},
		{in: "ALTER TABLE t ADD COLUMN IF NOT EXISTS a String, ADD COLUMN b String", bad: true},
		{in: "ALTER TABLE db.t ADD COLUMN IF NOT EXISTS a String", bad: true},
		{in: "ALTER TABLE t ADD COLUMN IF NOT EXISTS", bad: true},
	}
	for _, tc := range tests {
		ac, err := parseAddColumn(tc.in)
		switch {
		case tc.bad:
			if err == nil {
				t.Errorf("%q: accepted as %+v", tc.in, ac)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.table == "" && ac != nil:
			t.Errorf("%q: taken for %+v", tc.in, ac)
		case tc.table != "" && (ac == nil || ac.table != tc.table || ac.column != tc.column || ac.plain != tc.plain):
			t.Errorf("%q: %+v, want %s.%s by %q", tc.in, ac, tc.table, tc.column, tc.plain)
		}
	}
	// A migration file with such a statement is refused when parsed, before
	// anything runs.
	fsys := fstest.MapFS{"009_bad.sql": {Data: []byte("ALTER TABLE t ADD COLUMN IF NOT EXISTS a String, ADD COLUMN IF NOT EXISTS b String;\n")}}
	if _, err := parseMigrations(fsys); err == nil || !strings.Contains(err.Error(), "009_bad.sql") {
		t.Fatalf("parseMigrations: %v", err)
	}
}
