package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

// TestDashboardReads checks the dashboard's reads over knownFleet against
// the figures TestFleetReport works out by hand, and against the report
// itself where they must agree.
func TestDashboardReads(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	if err := s.InsertEvents(ctx, knownFleet(now)); err != nil {
		t.Fatal(err)
	}
	rep, err := s.FleetReport(ctx, store.ReportOptions{Now: now, Since: 24 * time.Hour, Tenant: "t1", StuckAfter: 4 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	w := store.ReportWindow(rep)
	t1 := store.AttemptFilter{Tenant: "t1"}
	h := func(d float64) time.Time { return now.Add(-time.Duration(d * float64(time.Hour))) }

	t.Run("outcomes over time", func(t *testing.T) {
		got, err := s.OutcomesOverTime(ctx, w, t1, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < 24 || len(got) > 25 {
			t.Fatalf("%d buckets, want 24 or 25 (every hour of the window)", len(got))
		}
		want := map[time.Time][2]uint64{
			h(11).Truncate(time.Hour): {7, 2}, // App A
			h(5).Truncate(time.Hour):  {1, 3}, // App B: d04 succeeded, three failed
			h(2).Truncate(time.Hour):  {1, 0}, // d05's attempt finished with its success
		}
		var failed uint64
		for i, b := range got {
			if i > 0 && !b.Start.Equal(got[i-1].Start.Add(time.Hour)) {
				t.Errorf("bucket %d starts %v, after %v", i, b.Start, got[i-1].Start)
			}
			if w := want[b.Start]; w != [2]uint64{b.Succeeded, b.Failed} {
				t.Errorf("bucket %v: %d succeeded %d failed, want %v", b.Start, b.Succeeded, b.Failed, w)
			}
			failed += b.Failed
		}
		var repFailed uint64
		for _, p := range rep.Products {
			repFailed += p.FailedAttempts
		}
		if failed != repFailed {
			t.Errorf("failed attempts over time %d, report %d", failed, repFailed)
		}
	})

	t.Run("product versions equal the report's", func(t *testing.T) {
		all, err := s.ProductVersions(ctx, w, t1)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(all) != fmt.Sprint(rep.Products) {
			t.Errorf("got %+v\nreport %+v", all, rep.Products)
		}
		one, err := s.ProductVersions(ctx, w, store.AttemptFilter{Tenant: "t1", Product: "App B", AnyVersion: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(one) != 1 || fmt.Sprint(one[0]) != fmt.Sprint(rep.Products[0]) {
			t.Errorf("App B: %+v, want %+v", one, rep.Products[0])
		}
	})

	tests := []struct {
		name string
		read func() (any, error)
		want string
	}{
		{"failing devices of App A 1.0", func() (any, error) {
			as, err := s.FailingDevices(ctx, w, store.AttemptFilter{Tenant: "t1", Product: "App A", Version: "1.0"}, 0)
			return attemptRows(as), err
		}, "[t1/d08 PA App A 1.0 failed win32:1603 0x80070643 t1/d09 PA App A 1.0 failed win32:1603 0x80070643]"},
		{"a device's attempts, oldest first", func() (any, error) {
			as, err := s.Attempts(ctx, w, store.AttemptFilter{Tenant: "t1", DeviceID: "d01"}, 0)
			return attemptRows(as), err
		}, "[t1/d01 PB App B 2.0 failed win32:1618 0x80070652 t1/d01 PA App A 1.0 succeeded :0 t1/d01 OFFICE-1 OFFICE-1 (unknown product)  in_progress :0]"},
		{"the latest attempts when limited", func() (any, error) {
			as, err := s.Attempts(ctx, w, store.AttemptFilter{Tenant: "t1", DeviceID: "d01"}, 1)
			return attemptRows(as), err
		}, "[t1/d01 OFFICE-1 OFFICE-1 (unknown product)  in_progress :0]"},
		{"failures by cause of App B", func() (any, error) {
			bs, err := s.FailuresByCause(ctx, w, store.AttemptFilter{Tenant: "t1", Product: "App B", AnyVersion: true}, time.Hour, 0)
			var out []string
			for _, b := range bs {
				out = append(out, fmt.Sprintf("%v %s:%d %d", b.Start.Equal(h(5).Truncate(time.Hour)), b.Space, b.Code, b.Failed))
			}
			return out, err
		}, "[true win32:1618 3]"},
		{"tenants", func() (any, error) { return s.Tenants(ctx, w) }, "[t1 t2]"},
		{"no device", func() (any, error) {
			as, err := s.Attempts(ctx, w, store.AttemptFilter{Tenant: "t1", DeviceID: "nope"}, 0)
			return attemptRows(as), err
		}, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.read()
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}

	t.Run("bad arguments", func(t *testing.T) {
		if _, err := s.OutcomesOverTime(ctx, w, t1, 1500*time.Millisecond); err == nil {
			t.Error("a bucket of 1.5s was accepted")
		}
		if _, err := s.Attempts(ctx, store.Window{From: now, To: now}, t1, 0); err == nil {
			t.Error("an empty window was accepted")
		}
	})
}

// attemptRows prints attempts as "tenant/device target product version
// outcome space:code hex".
func attemptRows(as []store.Attempt) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s/%s %s %s %s %s %s:%d %s", a.Tenant, a.DeviceID, a.TargetID, a.Product,
			a.Version, a.Outcome, a.CauseSpace, a.CauseCode, a.CodeHex())))
	}
	return out
}

// OpenReadOnly's store reads, and the server refuses its writes.
func TestOpenReadOnly(t *testing.T) {
	db := clickhousetest.NewDB(t)
	db.Store(t, nil) // migrated
	cfg := store.DefaultConfig()
	cfg.Addrs, cfg.Database = []string{db.Addr}, db.Database
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.OpenReadOnly(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Tenants(ctx, store.Window{From: time.Now().Add(-time.Hour), To: time.Now()}); err != nil {
		t.Fatalf("read: %v", err)
	}
	for _, q := range []string{
		"INSERT INTO install_events (event_id) VALUES ('x')",
		"CREATE TABLE t (x UInt8) ENGINE = Memory",
		"DROP TABLE install_events",
	} {
		if err := st.Conn().Exec(ctx, q); err == nil || !strings.Contains(strings.ToLower(err.Error()), "readonly") {
			t.Errorf("%s: err %v, want a readonly refusal", q, err)
		}
	}
}
