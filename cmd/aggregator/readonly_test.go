package main

import (
	"context"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

// catalog load writes into a database that must exist: its help does not
// promise to create it.
func TestCatalogLoadHelpDatabaseMustExist(t *testing.T) {
	out, _, err := runMain(t, "catalog", "load", "-h")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "created if missing") || !strings.Contains(out, "ClickHouse database (it must exist)") ||
		!strings.Contains(out, "slowest batch insert") {
		t.Fatalf("catalog load -h:\n%s", out)
	}
}

// The commands that only read (report, alerts, sql run, catalog list) open
// ClickHouse as the dashboard does: the server refuses their writes.
func TestReadOnlyCommandsConnectionRefusesWrites(t *testing.T) {
	db := clickhousetest.NewDB(t)
	ch := defaultCHFlags()
	ch.Addr, ch.Database = db.Addr, db.Database
	st, err := ch.openReadOnly(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var level string
	if err := st.Conn().QueryRow(context.Background(), "SELECT value FROM system.settings WHERE name = 'readonly'").Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level == "0" {
		t.Fatalf("readonly = %s, want %d", level, store.ReadOnlySetting)
	}
	if err := st.Conn().Exec(context.Background(), "CREATE TABLE ro_probe (x UInt8) ENGINE = Memory"); err == nil {
		t.Fatal("a read-only command's connection created a table")
	}
}
