package store_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/schema"
)

// Every analysis of schema/queries.sql runs on this server against the
// known fleet and finds what the fleet holds.
func TestAdminQueries(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	evs := knownFleet(now)
	// Two failures half an hour ago, in this order in one message: 1620 is
	// new, 1603 is not.
	for i, code := range []int64{1620, 1603} {
		evs = append(evs, event.Event{EventID: fmt.Sprintf("new%029d", i), SchemaVersion: 1, ReceivedAt: now.Add(-30 * time.Minute),
			Tenant: "t1", DeviceID: "d01", Kind: event.KindAlert, CmdID: int64(i + 1), Scope: event.ScopeDevice, CSP: event.CSPMSI, TargetID: "PA",
			Code: code, CodeSpace: "win32", Outcome: "failed"})
	}
	// Twice, as a replica paused with its INSERT open and the replica its
	// messages were redelivered to both store them: every query must count
	// each event once (schema/001).
	for range 2 {
		if err := s.InsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	qs := schema.NamedQueries()
	if len(qs) < 5 {
		t.Fatalf("queries.sql has %d named queries", len(qs))
	}
	checks := map[string]func(t *testing.T, rows []string){
		"failure_rate_by_product_version": func(t *testing.T, rows []string) {
			// Sum over days: "tenant csp product version failed succeeded".
			sum := map[string][2]uint64{}
			for _, r := range rows {
				f := strings.Split(r, "|") // day tenant csp product version failed succeeded rate failed_devices
				var failed, succeeded uint64
				fmt.Sscan(f[5], &failed)
				fmt.Sscan(f[6], &succeeded)
				k := strings.Join(f[1:5], " ")
				v := sum[k]
				sum[k] = [2]uint64{v[0] + failed, v[1] + succeeded}
			}
			want := map[string][2]uint64{
				"t1 " + event.CSPMSI + " App A 1.0": {2 + 2, 7}, // the two half-hour-old failures are App A's too
				"t1 " + event.CSPMSI + " App B 2.0": {4, 2},
				"t1 " + event.CSPMSI + " Old 0.1":   {1, 0},
				"t2 " + event.CSPMSI + " App A 1.0": {1, 0},
			}
			if fmt.Sprint(sum) != fmt.Sprint(want) {
				t.Errorf("got %v\nwant %v", sum, want)
			}
		},
		"top_failure_codes": func(t *testing.T, rows []string) {
			if len(rows) != 4 || !strings.HasPrefix(rows[0], "t1|win32|1603|") || !strings.Contains(rows[0], "|4|4|2") ||
				!strings.Contains(rows[0], "App A") || !strings.Contains(rows[0], "App B") {
				t.Errorf("rows %q, want t1 1603 first with 4 events, 4 devices, 2 products, App A and App B", rows)
			}
		},
		"stuck_devices": func(t *testing.T, rows []string) {
			if len(rows) != 1 || !strings.HasPrefix(rows[0], "t1|d10|device|"+event.CSPMSI+"|PA|App A|1.0|in_progress|40|") {
				t.Errorf("rows %q, want d10 only", rows)
			}
		},
		"codes_new_in_last_hour": func(t *testing.T, rows []string) {
			if len(rows) != 1 || !strings.HasPrefix(rows[0], "t1|"+event.CSPMSI+"|win32|1620|") {
				t.Errorf("rows %q, want 1620 only", rows)
			}
		},
		"device_history": func(t *testing.T, rows []string) {
			if len(rows) != 5 || !strings.Contains(rows[0], "|PB|") || !strings.Contains(rows[0], "|succeeded|") {
				t.Errorf("rows %q, want d05's 5 events, the PB success first", rows)
			}
		},
		"devices_failing_product_now": func(t *testing.T, rows []string) {
			// d01's latest App A event is the half-hour-old 1603.
			if len(rows) != 3 {
				t.Errorf("rows %q, want d01, d08, d09", rows)
			}
			for _, r := range rows {
				if !strings.Contains(r, "|App A|1.0|win32|1603|") {
					t.Errorf("row %q is not an App A 1603 failure", r)
				}
			}
		},
	}
	for _, q := range qs {
		t.Run(q.Name, func(t *testing.T) {
			check, ok := checks[q.Name]
			if !ok {
				t.Fatalf("query %s has no check", q.Name)
			}
			sql := strings.NewReplacer("'TENANT'", "'t1'", "'DEVICE-ID'", "'d05'", "'PRODUCT'", "'App A'").Replace(q.SQL)
			rows, err := s.Conn().Query(ctx, sql)
			if err != nil {
				t.Fatalf("%v\n%s", err, sql)
			}
			defer rows.Close()
			var got []string
			types := rows.ColumnTypes()
			for rows.Next() {
				vals := make([]any, len(types))
				for i, ct := range types {
					vals[i] = newScanTarget(ct.ScanType())
				}
				if err := rows.Scan(vals...); err != nil {
					t.Fatal(err)
				}
				parts := make([]string, len(vals))
				for i, v := range vals {
					parts[i] = fmt.Sprint(deref(v))
				}
				got = append(got, strings.Join(parts, "|"))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			check(t, got)
		})
	}
}

func newScanTarget(t reflect.Type) any { return reflect.New(t).Interface() }

func deref(p any) any { return reflect.ValueOf(p).Elem().Interface() }
