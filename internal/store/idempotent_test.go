package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/event/eventtest"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
	"github.com/cspwatch/cspwatch/schema"
)

// tallyFleet is n events over 20 devices and two targets, a quarter failed,
// one in ten without a target (a status answering no CSP node).
func tallyFleet(from, n int, at time.Time) []event.Event {
	var evs []event.Event
	for i := from; i < from+n; i++ {
		outcome, code := "succeeded", int64(0)
		if i%4 == 0 {
			outcome, code = "failed", 1603
		}
		e := mkEvent(i, fmt.Sprintf("dev%02d", i%20), outcome, code, at.Add(time.Duration(i)*time.Second))
		e.TargetID = fmt.Sprintf("T%d", i%2)
		if i%10 == 0 {
			e.TargetID = ""
		}
		evs = append(evs, e)
	}
	return evs
}

func tally(t *testing.T, s *store.Store) store.Tally {
	t.Helper()
	tl, err := s.Tally(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// A batch stored twice, in other blocks and in another order (as a paused
// replica and the replica its messages went to would store it), counts once
// in every table, and the copies are gone after a merge.
func TestRowsStoredTwiceCountOnce(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)
	evs := tallyFleet(0, 300, at)
	if err := s.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	// The replay: the last 200 again, in reverse order, in two INSERTs, with
	// 50 new events in the second.
	var replay []event.Event
	for i := len(evs) - 1; i >= 100; i-- {
		replay = append(replay, evs[i])
	}
	if err := s.InsertEvents(ctx, replay[:120]); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertEvents(ctx, append(replay[120:], tallyFleet(300, 50, at)...)); err != nil {
		t.Fatal(err)
	}
	tl := tally(t, s)
	if ok, why := tl.Exact(); !ok {
		t.Fatalf("%s (%+v)", why, tl)
	}
	if tl.Events != 350 || tl.TargetEvents != 315 {
		t.Fatalf("tally %+v, want 350 events, 315 with a target", tl)
	}
	if tl.Stored != 550 {
		t.Fatalf("%d rows stored before the merge, want 550: the test did not write copies", tl.Stored)
	}
	if n := count(t, s, "SELECT uniqExactMerge(events) FROM install_rollup_hourly WHERE code = 1603"); n != 88 {
		t.Fatalf("rollup counts %d failures, want 88", n)
	}
	if err := s.Conn().Exec(ctx, "OPTIMIZE TABLE install_events FINAL"); err != nil {
		t.Fatal(err)
	}
	if tl := tally(t, s); tl.Stored != 350 || tl.Events != 350 {
		t.Fatalf("after OPTIMIZE FINAL: %+v, want 350 rows stored", tl)
	}
}

// statements returns the statements of one "-- name:" part of a schema file.
func statements(t *testing.T, file, part string) []string {
	t.Helper()
	data, err := schema.FS.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "-- name: "+part+"\n")
	if !ok {
		t.Fatalf("%s has no part %q", file, part)
	}
	rest, _, _ = strings.Cut(rest, "-- name:")
	var out []string
	for st := range strings.SplitSeq(rest, ";\n") {
		var lines []string
		for l := range strings.SplitSeq(st, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
				lines = append(lines, l)
			}
		}
		if len(lines) > 0 {
			out = append(out, strings.Join(lines, "\n"))
		}
	}
	return out
}

// A database of the first layout is refused, and the documented upgrade
// keeps every event and rebuilds the rollups from them.
func TestUpgradeFromPlainMergeTree(t *testing.T) {
	db := clickhousetest.NewDB(t)
	conn := db.Conn(t)
	ctx := context.Background()
	old, err := filepath.Glob("testdata/pre_idempotent/*.sql")
	if err != nil || len(old) != 3 {
		t.Fatalf("old layout files: %v %v", old, err)
	}
	for _, f := range old {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range store.SplitStatements(string(data)) {
			if err := conn.Exec(ctx, st); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
	}
	if err := conn.Exec(ctx, "CREATE TABLE schema_migrations (version UInt32, name String, checksum String, applied_at DateTime) ENGINE = MergeTree ORDER BY version"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "INSERT INTO schema_migrations SELECT number + 1, 'old', '', now() FROM system.numbers LIMIT 3"); err != nil {
		t.Fatal(err)
	}
	cfg := store.DefaultConfig()
	cfg.Addrs, cfg.Database = []string{db.Addr}, db.Database
	s, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)
	insertOldLayout(t, conn, tallyFleet(0, 200, at))
	if _, err := s.Migrate(ctx); !errors.Is(err, store.ErrOldLayout) {
		t.Fatalf("Migrate on the old layout = %v, want ErrOldLayout", err)
	}
	for _, st := range statements(t, "upgrade_idempotent_storage.sql", "before") {
		if err := conn.Exec(ctx, st); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
	// ALTER ... DELETE is a mutation: wait until it has removed the rows.
	testkit.WaitFor(t, 30*time.Second, "schema_migrations to drop 001-003", func() bool {
		return count(t, s, "SELECT count() FROM schema_migrations WHERE version <= 3") == 0
	})
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// An aggregator stores some of the same events while the copy runs.
	if err := s.InsertEvents(ctx, tallyFleet(150, 100, at)); err != nil {
		t.Fatal(err)
	}
	for _, st := range statements(t, "upgrade_idempotent_storage.sql", "after") {
		if err := conn.Exec(ctx, st); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
	tl := tally(t, s)
	if ok, why := tl.Exact(); !ok || tl.Events != 250 {
		t.Fatalf("after the upgrade: %s %+v, want 250 events", why, tl)
	}
}

// insertOldLayout inserts events into an install_events of an older layout,
// which lacks the columns added since: only the columns the table has are
// written, as the store of that release wrote them.
func insertOldLayout(t *testing.T, conn driver.Conn, events []event.Event) {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'install_events'")
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO install_events ("+strings.Join(cols, ", ")+")")
	if err != nil {
		t.Fatal(err)
	}
	for i := range events {
		e := &events[i]
		vals := make([]any, len(cols))
		for j, c := range cols {
			switch c {
			case "received_ms":
				vals[j] = uint16(e.ReceivedAt.Nanosecond() / int(time.Millisecond))
				continue
			case "stream_seq":
				vals[j] = uint64(0)
				continue
			}
			f := fieldOfColumn(t, c)
			switch v := eventtest.Get(e, f).(type) {
			case int:
				vals[j] = uint8(v)
			case time.Time:
				vals[j] = v.UTC().Truncate(time.Second)
			default:
				vals[j] = v
			}
		}
		if err := batch.Append(vals...); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}
