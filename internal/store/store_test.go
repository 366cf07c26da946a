package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/event/eventtest"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

func TestMain(m *testing.M) { os.Exit(clickhousetest.Main(m)) }

// open migrates a fresh database and returns its store.
func open(t testing.TB) *store.Store {
	t.Helper()
	return clickhousetest.NewDB(t).Store(t, nil)
}

// schemaSnapshot lists every table and column of the database.
func schemaSnapshot(t *testing.T, s *store.Store) string {
	t.Helper()
	rows, err := s.Conn().Query(context.Background(),
		"SELECT table, name, type FROM system.columns WHERE database = currentDatabase() ORDER BY table, name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var tbl, name, typ string
		if err := rows.Scan(&tbl, &name, &typ); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s.%s %s\n", tbl, name, typ)
	}
	return b.String()
}

func count(t *testing.T, s *store.Store, q string) uint64 {
	t.Helper()
	var n uint64
	if err := s.Conn().QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestMigrateTwiceChangesNothing(t *testing.T) {
	s := open(t)
	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	before := schemaSnapshot(t, s)
	for _, tbl := range []string{"install_events.event_id", "install_rollup_hourly.devices", "install_state.last_outcome", "schema_migrations.version"} {
		if !strings.Contains(before, tbl+" ") {
			t.Errorf("schema lacks %s:\n%s", tbl, before)
		}
	}
	recorded := count(t, s, "SELECT count() FROM schema_migrations")
	res, err := s.Migrate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) != 0 {
		t.Fatalf("second Migrate applied %v", res.Applied)
	}
	if after := schemaSnapshot(t, s); after != before {
		t.Fatalf("schema changed:\n%s\nvs\n%s", before, after)
	}
	if n := count(t, s, "SELECT count() FROM schema_migrations"); n != recorded {
		t.Fatalf("schema_migrations grew from %d to %d", recorded, n)
	}
	// 18.16 applies every migration but the version-gated ones, which stay pending.
	done, err := s.AppliedMigrations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		_, ok := done[m.Version]
		gated := m.Requires != [2]int{}
		if ok == gated {
			t.Errorf("migration %d (requires %v): applied %v", m.Version, m.Requires, ok)
		}
	}
	if !slicesContain(res.Pending, 4) {
		t.Errorf("pending %v, want 4 (needs 21.8) on this server", res.Pending)
	}
}

func slicesContain(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func mkEvent(i int, device, outcome string, code int64, at time.Time) event.Event {
	return event.Event{
		EventID:       fmt.Sprintf("%032x", i),
		SchemaVersion: 1,
		ReceivedAt:    at,
		Tenant:        "t1",
		DeviceID:      device,
		SessionID:     "s",
		MsgID:         "1",
		Kind:          event.KindAlert,
		CmdID:         int64(i % 7),
		Scope:         event.ScopeDevice,
		CSP:           event.CSPMSI,
		TargetID:      "PRODUCT-A",
		Node:          "DownloadInstall",
		Code:          code,
		CodeSpace:     "win32",
		Outcome:       outcome,
		Product:       &event.Product{Name: "App A", Version: "1.2"},
	}
}

func TestInsertRowsAndExistingIDs(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 5, 30, 1, 123_000_000, time.UTC)
	var evs []event.Event
	for i := range 100 {
		outcome, code := "succeeded", int64(0)
		if i%4 == 0 {
			outcome, code = "failed", 1603
		}
		evs = append(evs, mkEvent(i, fmt.Sprintf("dev%02d", i%10), outcome, code, at.Add(time.Duration(i)*time.Minute)))
	}
	if err := s.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count() FROM install_events"); n != 100 {
		t.Fatalf("%d rows, want 100", n)
	}
	if n := count(t, s, "SELECT uniqExactMerge(events) FROM install_rollup_hourly"); n != 100 {
		t.Fatalf("rollup counts %d, want 100", n)
	}
	if n := count(t, s, "SELECT uniqExactMerge(events) FROM install_rollup_hourly WHERE code = 1603"); n != 25 {
		t.Fatalf("rollup 1603 counts %d, want 25", n)
	}
	// Milliseconds and product survive the round trip.
	var ms uint16
	var name string
	if err := s.Conn().QueryRow(ctx, "SELECT received_ms, product_name FROM install_events WHERE event_id = ?", evs[0].EventID).Scan(&ms, &name); err != nil {
		t.Fatal(err)
	}
	if ms != 123 || name != "App A" {
		t.Fatalf("received_ms %d product %q", ms, name)
	}

	probe := []store.Row{{Event: evs[3]}, {Event: evs[50]}, {Event: mkEvent(1000, "x", "failed", 1, at)}}
	got, err := s.ExistingIDs(ctx, probe, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("existing %v, want the two inserted ids", got)
	}
	for _, e := range []event.Event{evs[3], evs[50]} {
		if _, ok := got[e.EventID]; !ok {
			t.Fatalf("%s not reported existing", e.EventID)
		}
	}
}

// The latest state of a device follows its last counting event, ignores a
// LastError of 0 beside an install in progress, and keeps the last known
// product version.
func TestInstallState(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)
	e1 := mkEvent(1, "d1", "in_progress", 40, at)
	e1.Kind, e1.Node, e1.CodeSpace = event.KindResult, "Status", "msi_status"
	e2 := mkEvent(2, "d1", "succeeded", 0, at)
	e2.Kind, e2.Node, e2.Product, e2.CmdID = event.KindResult, "LastError", nil, 6
	e3 := mkEvent(3, "d2", "in_progress", 40, at)
	e3.Kind, e3.Node, e3.CodeSpace = event.KindResult, "Status", "msi_status"
	e4 := mkEvent(4, "d2", "failed", 1603, at.Add(time.Hour))
	e4.Product = nil
	if err := s.InsertEvents(ctx, []event.Event{e1, e2, e3}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertEvents(ctx, []event.Event{e4}); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Conn().Query(ctx, `SELECT device_id, argMaxIfMerge(last_outcome), argMaxIfMerge(last_code), argMaxIfMerge(last_product_version)
		FROM install_state GROUP BY tenant, device_id, scope, csp, target_id ORDER BY device_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var dev, outcome, version string
		var code int64
		if err := rows.Scan(&dev, &outcome, &code, &version); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %d %s", dev, outcome, code, version))
	}
	want := []string{"d1 in_progress 40 1.2", "d2 failed 1603 1.2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("state %v, want %v", got, want)
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"eof", fmt.Errorf("clickhouse insert: %w", io.EOF), true},
		{"dial", errors.New("dial tcp 127.0.0.1:9000: connect: connection refused"), true},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), false},
		{"too many parts", fmt.Errorf("x: %w", &clickhouse.Exception{Code: 252}), true},
		{"memory", &clickhouse.Exception{Code: 241}, true},
		{"unknown table", fmt.Errorf("x: %w", &clickhouse.Exception{Code: 60}), false},
		{"no such column", &clickhouse.Exception{Code: 16}, false},
		{"auth", &clickhouse.Exception{Code: 516}, false},
		{"shard replica died mid-insert", &clickhouse.Exception{Code: 32}, true},
		{"no replica of a shard", &clickhouse.Exception{Code: 279}, true},
		{"quorum of a previous write", &clickhouse.Exception{Code: 286}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := store.Retryable(tt.err); got != tt.want {
				t.Fatalf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*store.Config)
		want   string
	}{
		{"defaults", func(*store.Config) {}, ""},
		{"no addr", func(c *store.Config) { c.Addrs = nil }, "no address"},
		{"bad db", func(c *store.Config) { c.Database = "a;b" }, "bad database"},
		{"cert without key", func(c *store.Config) { c.TLS, c.TLSCert = true, "c.pem" }, "go together"},
		{"tls settings without tls", func(c *store.Config) { c.TLSCA = "ca.pem" }, "tls is off"},
		{"zero conns", func(c *store.Config) { c.MaxOpenConns = 0 }, "max open conns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := store.DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestInsertRowsEveryColumn checks each field lands in its own column, with
// and without nested objects (product, msi_job, office_config): a row with
// every field of event.Fields set, each to a value of its own, reads back
// column by column (store.Columns) as it was.
func TestInsertRowsEveryColumn(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	full := eventtest.Full()
	full.EventID = "e-full"
	bare := full
	bare.EventID, bare.Product, bare.MSIJob, bare.OfficeConfig = "e-bare", nil, nil, nil
	if err := s.InsertRows(ctx, []store.Row{{Event: full, Seq: 77}, {Event: bare, Seq: 78}}); err != nil {
		t.Fatal(err)
	}
	cols := store.Columns()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	for _, want := range []store.Row{{Event: full, Seq: 77}, {Event: bare, Seq: 78}} {
		t.Run(want.EventID, func(t *testing.T) {
			dest := make([]any, len(cols))
			for i, c := range cols {
				dest[i] = scanTarget(t, c)
			}
			err := s.Conn().QueryRow(ctx, "SELECT "+strings.Join(names, ", ")+" FROM install_events WHERE event_id = ?", want.EventID).
				Scan(dest...)
			if err != nil {
				t.Fatal(err)
			}
			var got store.Row
			var at time.Time
			var ms uint16
			for i, c := range cols {
				v := reflect.ValueOf(dest[i]).Elem().Interface()
				switch c.Name {
				case "received_at":
					at = v.(time.Time)
					continue
				case "received_ms":
					ms = v.(uint16)
					continue
				case "stream_seq":
					got.Seq = v.(uint64)
					continue
				}
				f := fieldOfColumn(t, c.Name)
				if u, ok := v.(uint8); ok {
					// schema_version, or a flag.
					if _, isBool := eventtest.Get(&got.Event, f).(bool); isBool {
						v = u != 0
					} else {
						v = int(u)
					}
				}
				if ss, ok := v.([]string); ok && len(ss) == 0 {
					v = []string(nil) // an empty array is an absent one
				}
				eventtest.Set(&got.Event, f, v)
			}
			// A row without an object holds its zero values.
			eventtest.ClearObjects(&got.Event)
			got.ReceivedAt = at.UTC().Add(time.Duration(ms) * time.Millisecond)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("stored\n%+v %+v %+v %+v\nwant\n%+v %+v %+v %+v", got, got.Product, got.MSIJob, got.OfficeConfig,
					want, want.Product, want.MSIJob, want.OfficeConfig)
			}
		})
	}
}

// scanTarget is a pointer to scan column c into.
func scanTarget(t *testing.T, c store.Column) any {
	switch c.Type {
	case "String":
		return new(string)
	case "Int64":
		return new(int64)
	case "UInt8":
		return new(uint8)
	case "UInt16":
		return new(uint16)
	case "UInt64":
		return new(uint64)
	case "DateTime":
		return new(time.Time)
	case "Array(String)":
		return new([]string)
	}
	t.Fatalf("column %s: type %s new to the test", c.Name, c.Type)
	return nil
}

// fieldOfColumn is the field of event.Fields stored in column name.
func fieldOfColumn(t *testing.T, name string) event.Field {
	for _, f := range event.Fields {
		if f.Column == name {
			return f
		}
	}
	t.Fatalf("column %s holds no field of event.Fields", name)
	return event.Field{}
}

// TestInstallEventsColumnsMatchFields: after the migrations, install_events
// has exactly the columns store.Columns lists (those of event.Fields and the
// storage-only ones), with the same types. (The INSERT names its columns, so
// their order in the table does not matter.)
func TestInstallEventsColumnsMatchFields(t *testing.T) {
	s := open(t)
	rows, err := s.Conn().Query(context.Background(),
		"SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'install_events'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []store.Column
	for rows.Next() {
		var c store.Column
		if err := rows.Scan(&c.Name, &c.Type); err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := store.Columns()
	byName := func(cols []store.Column) map[string]string {
		m := make(map[string]string, len(cols))
		for _, c := range cols {
			m[c.Name] = c.Type
		}
		return m
	}
	g, w := byName(got), byName(want)
	for name, typ := range w {
		if gt, ok := g[name]; !ok {
			t.Errorf("install_events has no column %s (%s)", name, typ)
		} else if gt != typ {
			t.Errorf("install_events.%s is %s, event.Fields says %s", name, gt, typ)
		}
	}
	for name, typ := range g {
		if _, ok := w[name]; !ok {
			t.Errorf("install_events.%s (%s) is neither in event.Fields nor storage-only", name, typ)
		}
	}
	if len(got) != len(want) {
		t.Errorf("install_events has %d columns, store.Columns %d", len(got), len(want))
	}
}

// An insert sent in several blocks stores every row once and feeds the
// rollup once. After an aborted one, what it had sent may be stored (18.16
// takes the closed connection for the end of the data), but only whole: the
// existence check and a new insert of the rest store each row exactly once,
// which is what the aggregator's retries rely on.
func TestInsertStreamsBlocks(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 5, 30, 0, 0, time.UTC)
	rows := func(from, to int) []store.Row {
		out := make([]store.Row, 0, to-from)
		for i := from; i < to; i++ {
			out = append(out, store.Row{Event: mkEvent(i, fmt.Sprintf("dev%03d", i%300), "succeeded", 0, at.Add(time.Duration(i)*time.Millisecond)), Seq: uint64(i + 1)})
		}
		return out
	}
	want := uint64(0)
	check := func(t *testing.T) {
		t.Helper()
		if n := count(t, s, "SELECT count() FROM install_events"); n != want {
			t.Fatalf("%d rows, want %d", n, want)
		}
		if n := count(t, s, "SELECT uniqExact(event_id) FROM install_events"); n != want {
			t.Fatalf("%d distinct event ids, want %d", n, want)
		}
		if n := count(t, s, "SELECT uniqExactMerge(events) FROM install_rollup_hourly"); n != want {
			t.Fatalf("rollup counts %d, want %d", n, want)
		}
	}
	t.Run("InsertRows over several blocks", func(t *testing.T) {
		n := 2*store.InsertBlockRows + 5
		if err := s.InsertRows(ctx, rows(0, n)); err != nil {
			t.Fatal(err)
		}
		want += uint64(n)
		check(t)
	})
	base := 2*store.InsertBlockRows + 5
	t.Run("Write, Write, Commit", func(t *testing.T) {
		in, err := s.BeginInsert(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Write(rows(base, base+700)); err != nil {
			t.Fatal(err)
		}
		if err := in.Write(rows(base+700, base+1000)); err != nil {
			t.Fatal(err)
		}
		if err := in.Commit(); err != nil {
			t.Fatal(err)
		}
		want += 1000
		check(t)
	})
	t.Run("Write, Abort, check, insert the rest", func(t *testing.T) {
		in, err := s.BeginInsert(ctx)
		if err != nil {
			t.Fatal(err)
		}
		aborted := rows(base+1000, base+1500)
		if err := in.Write(aborted[:200]); err != nil {
			t.Fatal(err)
		}
		if err := in.Write(aborted[200:]); err != nil {
			t.Fatal(err)
		}
		in.Abort()
		in.Abort() // a second Abort is harmless
		// The server may still be reading the statement: wait until it is
		// over before counting.
		testkit.WaitFor(t, 10*time.Second, "the aborted insert to end", func() bool {
			return count(t, s, "SELECT count() FROM system.processes WHERE query LIKE 'INSERT INTO install_events%'") == 0
		})
		if n := count(t, s, "SELECT count() FROM install_events"); n != want && n != want+uint64(len(aborted)) {
			t.Fatalf("%d rows after the abort: part of the aborted insert is stored (before it %d, it held %d)", n, want, len(aborted))
		}
		have, err := s.ExistingIDs(ctx, aborted, 0)
		if err != nil {
			t.Fatal(err)
		}
		var rest []store.Row
		for _, r := range aborted {
			if _, ok := have[r.EventID]; !ok {
				rest = append(rest, r)
			}
		}
		if err := s.InsertRows(ctx, rest); err != nil {
			t.Fatal(err)
		}
		want += uint64(len(aborted))
		check(t)
	})
}

// A migration that adds columns and was cut off half-way runs again from its
// first statement: the columns already there are kept, the others added,
// on 18.16 too, which cannot parse ADD COLUMN IF NOT EXISTS.
func TestMigrateAddColumnCutOffHalfWay(t *testing.T) {
	db := clickhousetest.NewDB(t)
	conn := db.Conn(t)
	ctx := context.Background()
	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var adds []string
	for _, m := range ms {
		if m.Version == 5 {
			adds = m.Statements
			break
		}
		if m.Requires != [2]int{} || m.Version > 5 {
			continue
		}
		for _, st := range m.Statements {
			if err := conn.Exec(ctx, st); err != nil {
				t.Fatalf("migration %d: %v", m.Version, err)
			}
		}
	}
	if len(adds) < 3 {
		t.Fatalf("migration 005 has %d statements", len(adds))
	}
	// The first two columns were added before the cut, as an older server
	// can add them: without IF NOT EXISTS.
	for _, st := range adds[:2] {
		plain := strings.Replace(st, " IF NOT EXISTS", "", 1)
		if plain == st {
			t.Fatalf("not an ADD COLUMN IF NOT EXISTS: %s", st)
		}
		if err := conn.Exec(ctx, plain); err != nil {
			t.Fatalf("%s: %v", plain, err)
		}
	}
	s := db.Store(t, nil) // migrates
	res, err := s.Migrate(ctx)
	if err != nil || len(res.Applied) != 0 {
		t.Fatalf("second Migrate: %+v %v", res, err)
	}
	want := map[string]string{}
	for _, c := range store.Columns() {
		want[c.Name] = c.Type
	}
	rows, err := conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'install_events'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		if want[name] != typ {
			t.Errorf("install_events.%s %s, want %q", name, typ, want[name])
		}
		n++
	}
	if n != len(want) {
		t.Errorf("install_events has %d columns, want %d", n, len(want))
	}
}
