package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
	"github.com/cspwatch/cspwatch/schema"
)

func TestSQLConfig(t *testing.T) {
	tests := []struct {
		name    string
		action  string
		args    []string
		env     map[string]string
		check   func(sqlConfig) bool
		wantErr string // empty: no error
	}{
		{"list", "list", nil, nil, func(c sqlConfig) bool { return len(c.Names) == 0 }, ""},
		{"render all with the required", "render", []string{"--param", "device_id=d1", "--param=product=App A"}, nil,
			func(c sqlConfig) bool { return len(c.Names) == 0 && c.Params["product"] == "App A" }, ""},
		{"names and flags mixed", "render", []string{"top_causes", "--param", "tenant=t1", "stuck_attempts", "--param", "stuck_hours=8"}, nil,
			func(c sqlConfig) bool {
				return slices.Equal(c.Names, []string{"top_causes", "stuck_attempts"}) && c.Params.String() == "stuck_hours=8 tenant=t1"
			}, ""},
		{"a value holding =", "render", []string{"--param", "product=a=b", "devices_failing_product_now"}, nil,
			func(c sqlConfig) bool { return c.Params["product"] == "a=b" }, ""},
		{"run takes the environment's ClickHouse", "run", []string{"top_causes"}, map[string]string{"CSPWATCH_CLICKHOUSE_ADDR": "ch:9000"},
			func(c sqlConfig) bool { return c.CH.Addr == "ch:9000" }, ""},
		{"list takes no name", "list", []string{"top_causes"}, nil, nil, "sql list takes no query"},
		{"list takes no param", "list", []string{"--param", "a=b"}, nil, nil, "unknown flag --param"},
		{"render of an unknown query", "render", []string{"nope"}, nil, nil, `no query "nope"`},
		{"a query twice", "render", []string{"top_causes", "top_causes"}, nil, nil, "query top_causes named twice"},
		{"missing parameters", "render", nil, nil, nil, "missing parameter device_id (String, for device_history); product (String, for devices_failing_product_now)"},
		{"unknown parameter", "render", []string{"top_causes", "--param", "device_id=x"}, nil, nil, "unknown parameter device_id (these queries take: since_hours, tenant)"},
		{"not a UInt32", "render", []string{"top_causes", "--param", "since_hours=24h"}, nil, nil, `since_hours: "24h" is not a UInt32`},
		{"injection is a number error", "render", []string{"top_causes", "--param", "since_hours=1 OR 1=1"}, nil, nil, "is not a UInt32"},
		{"no NAME=", "render", []string{"--param", "tenant"}, nil, nil, `"tenant": want NAME=VALUE`},
		{"a parameter twice", "render", []string{"--param", "tenant=a", "--param", "tenant=b"}, nil, nil, "parameter tenant given twice"},
		{"run needs a name", "run", nil, nil, nil, "name the queries to run"},
		{"run with a bad ClickHouse", "run", []string{"top_causes", "--clickhouse-addr", ""}, nil, nil, "clickhouse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseSQLConfig(tt.action, tt.args, envFunc(tt.env), io.Discard)
			if tt.wantErr != "" {
				if !errors.Is(err, errUsage) || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a usage error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
	for _, args := range [][]string{{"sql"}, {"sql", "frobnicate"}, {"sql", "render", "--frob"}} {
		if err := Main(context.Background(), args, envFunc(nil), io.Discard, io.Discard); exitCode(err) != 2 {
			t.Errorf("%q: %v, want exit code 2", args, err)
		}
	}
}

// `aggregator sql list` names every query with its parameters and every
// parameter with its type and default.
func TestSQLList(t *testing.T) {
	var out bytes.Buffer
	if err := Main(context.Background(), []string{"sql", "list"}, envFunc(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, q := range schema.NamedQueries() {
		if !strings.Contains(out.String(), "\n"+q.Name+" (") && !strings.HasPrefix(out.String(), q.Name+" (") {
			t.Errorf("no query %s in\n%s", q.Name, out.String())
		}
	}
	for _, w := range []string{"device_history (device_id, tenant)\n", "  tenant         String  ''", "  since_hours    UInt32  24 ", "  device_id      String  (required)"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("no %q in\n%s", w, out.String())
		}
	}
}

// `aggregator sql render` prints statements that end with ";" and parse
// back to the same queries with no parameter left, values quoted.
func TestSQLRender(t *testing.T) {
	var out bytes.Buffer
	args := []string{"sql", "render", "--param", `device_id=d'1\`, "--param", "product=App A", "--param", "since_hours=48"}
	if err := Main(context.Background(), args, envFunc(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	back, err := schema.ParseQueries(out.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !slices.Equal(back.Names(), schema.AdminQueries().Names()) || len(back.Params) != 0 {
		t.Errorf("rendered queries %q, %d params", back.Names(), len(back.Params))
	}
	for _, w := range []string{`device_id = 'd\'1\\'`, "product = 'App A'", "now() - 48 * 3600", "('' = '' OR tenant = '')", ";\n"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("no %q in\n%s", w, out.String())
		}
	}
	if strings.Count(out.String(), ";\n") != len(back.Queries) || !strings.HasSuffix(out.String(), ";\n") {
		t.Errorf("statements do not each end with ';':\n%s", out.String())
	}
	out.Reset()
	if err := Main(context.Background(), []string{"sql", "render", "stuck_attempts"}, envFunc(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "-- name: stuck_attempts\n") || !strings.Contains(out.String(), "now() - 4 * 3600") {
		t.Errorf("stuck_attempts with defaults:\n%s", out.String())
	}
}

// `aggregator sql run` renders a query, runs it on ClickHouse and prints its
// rows: one failed MSI install is one failed attempt of one device, with
// its cause in both forms.
func TestSQLRunEndToEnd(t *testing.T) {
	db := clickhousetest.NewDB(t)
	st := db.Store(t, nil)
	now := time.Now().UTC().Truncate(time.Second).Add(-2 * time.Hour)
	base := event.Event{SchemaVersion: 1, Tenant: "t1", DeviceID: "dev-1", SessionID: "s1", MsgID: "1",
		Scope: event.ScopeDevice, CSP: event.CSPMSI, TargetID: "PA", ReceivedAt: now}
	ev := func(id string, cmd int64, f func(*event.Event)) event.Event {
		e := base
		e.EventID, e.CmdID = id, cmd
		f(&e)
		return e
	}
	evs := []event.Event{
		ev("c", 1, func(e *event.Event) {
			e.Kind, e.Command, e.Node, e.Outcome = event.KindCommand, event.CommandExec, "DownloadInstall", event.OutcomeRequested
			e.MSIJob = &event.MSIJob{ProductVersion: "2.0"}
		}),
		ev("a", 2, func(e *event.Event) {
			e.ReceivedAt = now.Add(time.Minute)
			e.Kind, e.Node, e.Code, e.CodeSpace, e.Outcome = event.KindAlert, "DownloadInstall", 1603, "win32", "failed"
		}),
		ev("s", 3, func(e *event.Event) {
			e.ReceivedAt = now.Add(time.Minute)
			e.Kind, e.Node, e.Code, e.CodeSpace, e.Outcome = event.KindResult, "Status", 60, "msi_status", "failed"
		}),
		ev("l", 4, func(e *event.Event) {
			e.ReceivedAt = now.Add(time.Minute)
			e.Kind, e.Node, e.Code, e.CodeSpace, e.Win32Code, e.Outcome = event.KindResult, "LastError", -2147023293, "hresult", 1603, "failed"
		}),
	}
	if err := st.InsertEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	env := envFunc(map[string]string{"CSPWATCH_CLICKHOUSE_ADDR": db.Addr, "CSPWATCH_CLICKHOUSE_DATABASE": db.Database})
	var out bytes.Buffer
	if err := Main(context.Background(), []string{"sql", "run", "top_causes", "--param", "tenant=t1"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "TENANT  CODE_SPACE  CODE  CODE_HEX") ||
		!slices.Equal(strings.Fields(lines[1]), []string{"t1", "win32", "1603", "0x80070643", "1", "1", "1", "[PA", "(unknown", "product)", "2.0]"}) {
		t.Errorf("top_causes:\n%s", out.String())
	}
	out.Reset()
	if err := Main(context.Background(), []string{"sql", "run", "failure_rate_by_product_version", "device_history", "--param", "device_id=dev-1"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"-- failure_rate_by_product_version\n", "\n\n-- device_history\n", " failed ", " 0x80070643 "} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("no %q in\n%s", w, out.String())
		}
	}
	out.Reset()
	if err := Main(context.Background(), []string{"sql", "run", "stuck_attempts"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "\n(no rows)\n") {
		t.Errorf("stuck_attempts:\n%s", out.String())
	}
	// A missing parameter is refused before ClickHouse is asked.
	err := Main(context.Background(), []string{"sql", "run", "device_history"}, env, io.Discard, io.Discard)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "missing parameter device_id") {
		t.Errorf("device_history without device_id: %v", err)
	}
	// A database that is not there is an error, not an empty table.
	noDB := envFunc(map[string]string{"CSPWATCH_CLICKHOUSE_ADDR": db.Addr, "CSPWATCH_CLICKHOUSE_DATABASE": db.Database + "_none"})
	if err := Main(context.Background(), []string{"sql", "run", "top_causes"}, noDB, io.Discard, io.Discard); err == nil || exitCode(err) != 1 {
		t.Errorf("run on a missing database: %v", err)
	}
}

func TestCellText(t *testing.T) {
	s := "x"
	var nilStr *string
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		v    any
		want string
	}{
		{"plain", "plain"},
		{"a\tb\nc\x1b[31m", `a\tb\nc\x1b[31m`},
		{"bad \xff byte, real \uFFFD", `bad \xff byte, real ` + "\uFFFD"},
		{"\u0085\u2028", `\x85` + "\u2028"},
		{uint64(42), "42"},
		{-1.5, "-1.5"},
		{when, "2026-01-02 03:04:05"},
		{[]string{"a", "b\n"}, `[a, b\n]`},
		{&s, "x"},
		{nilStr, "NULL"},
	}
	for _, tt := range tests {
		if got := cellText(reflect.ValueOf(tt.v)); got != tt.want {
			t.Errorf("cellText(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
	if err := (paramFlag{}).Set("=x"); err == nil {
		t.Error("Set(=x): no error")
	}
	var _ flag.Value = paramFlag{}
}
