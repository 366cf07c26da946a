package store

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/testkit"
)

// Every statement of every migration (and the migrations table) has a
// cluster form, checked statement by statement against
// testdata/cluster_statements.golden (go test -run TestClusterStatements
// -update rewrites it).
func TestClusterStatements(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]bool{}
	var b strings.Builder
	emit := func(label, st string) {
		sts, err := ClusterStatements(st, "cspwatch", "db", tables)
		if err != nil {
			t.Errorf("%s: %v", label, err)
			return
		}
		fmt.Fprintf(&b, "-- %s\n", label)
		for _, s := range sts {
			b.WriteString(s)
			b.WriteString(";\n")
		}
		b.WriteString("\n")
	}
	emit("schema_migrations", migrationsTable)
	for _, m := range ms {
		for i, st := range m.Statements {
			emit(fmt.Sprintf("%03d_%s statement %d", m.Version, m.Name, i+1), st)
		}
	}
	testkit.Golden(t, "testdata/cluster_statements.golden", []byte(b.String()))
}

func TestClusterStatementsRefuse(t *testing.T) {
	for _, st := range []string{
		"CREATE TABLE IF NOT EXISTS t (a String) ENGINE = Memory",
		"DROP TABLE x",
		"ALTER TABLE unknown ADD COLUMN IF NOT EXISTS a String",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS mv TO unknown AS SELECT 1",
	} {
		if sts, err := ClusterStatements(st, "c", "db", map[string]bool{}); err == nil {
			t.Errorf("%q: no error, got %q", st, sts)
		}
	}
}

func TestParseClusterAddColumn(t *testing.T) {
	ac, err := parseAddColumn("ALTER TABLE install_events_local ON CLUSTER c ADD COLUMN IF NOT EXISTS x Array(String)")
	if err != nil || ac == nil {
		t.Fatalf("%v %v", ac, err)
	}
	if ac.table != "install_events_local" || ac.column != "x" || ac.plain != "ALTER TABLE install_events_local ON CLUSTER c ADD COLUMN x Array(String)" {
		t.Errorf("%+v", *ac)
	}
}
