package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

func TestCatalogLoadConfig(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantFile string
		check    func(catalogLoadConfig) bool
		wantErr  bool
	}{
		{"file first", []string{"p.csv", "--clickhouse-addr", "ch:9000"}, nil, "p.csv",
			func(c catalogLoadConfig) bool { return c.CH.Addr == "ch:9000" && !c.DryRun }, false},
		{"file last", []string{"--dry-run", "p.json"}, map[string]string{"CSPWATCH_CLICKHOUSE_DATABASE": "db2"}, "p.json",
			func(c catalogLoadConfig) bool { return c.DryRun && c.CH.Database == "db2" }, false},
		{"no file", nil, nil, "", nil, true},
		{"two files", []string{"a.csv", "b.csv"}, nil, "", nil, true},
		{"unknown flag", []string{"--nope", "a.csv"}, nil, "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCatalogLoadConfig(tt.args, envFunc(tt.env), io.Discard)
			if tt.wantErr {
				if !errors.Is(err, errUsage) || exitCode(err) != 2 {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.File != tt.wantFile || !tt.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
	if err := Main(context.Background(), []string{"catalog", "frobnicate"}, envFunc(nil), io.Discard, io.Discard); exitCode(err) != 2 {
		t.Fatalf("catalog frobnicate: %v, want a usage error", err)
	}
}

// `aggregator catalog load` stores a file's names, `catalog list` shows
// them, and a bad file stores nothing and says where it is wrong, as
// `aggregator run --products` does before it starts anything.
func TestCatalogLoadEndToEnd(t *testing.T) {
	db := clickhousetest.NewDB(t)
	env := envFunc(map[string]string{"CSPWATCH_CLICKHOUSE_ADDR": db.Addr, "CSPWATCH_CLICKHOUSE_DATABASE": db.Database})
	ctx := context.Background()
	if err := Main(ctx, []string{"migrate"}, env, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("products.csv", "tenant,csp,target_id,name,version,publisher\n"+
		"t1,msi,{6f7cb29f-9a3b-4c1e-8d2a-0e5b7c9d1f34},Contoso VPN,2.1,Contoso Ltd\n"+
		"t1,office,INST-1,Microsoft 365 Apps,,Microsoft\n")
	var out bytes.Buffer
	if err := Main(ctx, []string{"catalog", "load", good}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "stored 2 products for tenant t1") {
		t.Errorf("load said %q", out.String())
	}
	bad := write("bad.json", `[
  {"tenant": "t1", "csp": "msi", "target_id": "A", "name": "Fine"},
  {"tenant": "t1", "csp": "apk", "target_id": "B", "name": "Bad"}
]`)
	err := Main(ctx, []string{"catalog", "load", bad}, env, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "bad.json: line 3: unknown csp \"apk\"") {
		t.Fatalf("loading a bad file: %v", err)
	}
	err = Main(ctx, []string{"run", "--products", bad, "--listen", "127.0.0.1:0"}, env, io.Discard, io.Discard)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("run with a bad product file: %v, want a usage error naming line 3", err)
	}

	out.Reset()
	if err := Main(ctx, []string{"catalog", "list", "--tenant", "t1"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"6F7CB29F-9A3B-4C1E-8D2A-0E5B7C9D1F34  Contoso VPN", "2.1", "Contoso Ltd", "INST-1", "Microsoft 365 Apps"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("catalog list lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "Fine") {
		t.Errorf("the bad file's good row was stored:\n%s", out.String())
	}
}

// `aggregator alerts` names products as the catalog names them now, and
// marks a product nothing names.
func TestNameAlerts(t *testing.T) {
	first := time.Date(2026, 11, 23, 6, 30, 0, 0, time.UTC)
	alert := func(target, name, version string) alerts.Alert {
		return alerts.Alert{ID: "id-" + target, Status: alerts.Firing, Level: alerts.LevelProduct, Tenant: "t1", CSP: event.CSPMSI,
			TargetID: target, ProductName: name, ProductVersion: version, CodeSpace: "win32", Code: 1603,
			FirstSeen: first, BucketSeconds: 60, Query: "SELECT 1"}
	}
	list := []alerts.Alert{
		alert("NAMED-LATER", "", ""),
		alert("RENAMED", "Old Name", "1.0"),
		alert("UNKNOWN", "", ""),
		{ID: "code", Status: alerts.Firing, Level: alerts.LevelCode, Tenant: "t1", CSP: event.CSPMSI, CodeSpace: "win32", Code: 1603, FirstSeen: first, Query: "SELECT 1"},
	}
	key := func(target string) store.ProductKey {
		return store.ProductKey{Tenant: "t1", CSP: event.CSPMSI, TargetID: target}
	}
	nameAlerts(list, map[store.ProductKey]store.Product{
		key("NAMED-LATER"): {ProductKey: key("NAMED-LATER"), Name: "Named Later", Version: "3.2", Known: true},
		key("RENAMED"):     {ProductKey: key("RENAMED"), Name: "Admin Name", Version: "9.9", Known: true},
		key("UNKNOWN"):     {ProductKey: key("UNKNOWN")},
	})
	var out bytes.Buffer
	if err := writeAlerts(&out, list, "t1", first.Add(-time.Hour), first.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"product     Named Later 3.2  (target NAMED-LATER)",
		"product     Admin Name 1.0  (target RENAMED)", // the events' version is the alert's
		"product     UNKNOWN (unknown product)  (target UNKNOWN)",
		"product     all products",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("alerts lack %q:\n%s", want, out.String())
		}
	}
}
