package grafana

import (
	"context"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/attempttest"
	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
)

func TestMain(m *testing.M) { os.Exit(clickhousetest.Main(m)) }

const (
	targetA      = attempttest.TargetA
	targetB      = attempttest.TargetB
	targetOffice = attempttest.TargetOffice
	msi          = event.CSPMSI
	office       = event.CSPOffice
)

// finish is an install attempt that ended: when, how and why. The time
// series panels' truth.
type finish struct {
	tenant, product string
	at              time.Duration // before now
	outcome         string
	cause           string // the failures-by-cause series
}

// Cause series names as the failures-by-cause panel labels them.
const (
	c1603  = "win32 1603 (0x80070643)"
	c1618  = "win32 1618 (0x80070652)"
	c1620  = "win32 1620 (0x80070654)"
	c17002 = "office_status 17002"
	cImp   = "hresult 0x86000020"
)

// finishes are the attempts of attempttest.Fleet that finished, each a
// duration before the fleet's now.
func finishes() []finish {
	h, m, s := time.Hour, time.Minute, time.Second
	ok, failed := "succeeded", "failed"
	finishes := []finish{
		{"t1", "App A", 3*h - 100*s, failed, c1603},                            // d01
		{"t1", "App A", 3*h + 30*m - 100*s, failed, c1603},                     // d02
		{"t1", "App A", 5*h - 100*s, failed, c1603},                            // d03's first attempt
		{"t1", "App A", 2*h - 60*s, ok, ""},                                    // d03's second
		{"t1", "App A", 2*h - 60*s, ok, ""},                                    // d04
		{"t1", "App A", 10*h - 60*s, ok, ""},                                   // d06
		{"t1", "App B", 4*h - 100*s, failed, c1618},                            // d08
		{"t1", "App B", 30*m - 100*s, failed, c1603},                           // d09
		{"t1", "App B", 40*m - 100*s, failed, c1620},                           // d10
		{"t1", "Microsoft 365 Apps", 3*h - 300*s, failed, c17002},              // d11
		{"t1", "App A", 30*h - 100*s, failed, c1603},                           // d12
		{"t1", "App B", 5*h + 15*m - 100*s, failed, cImp},                      // d13
		{"t1", "App A", 2*h - 60*s, ok, ""},                                    // d16's second attempt
		{"t2", "PA" + store.UnknownProduct, 3*h + 10*m - 100*s, failed, c1603}, // t2 d01
	}
	return finishes
}

// alertRow is a row of the alerts table (schema/100, 101).
type alertRow struct {
	id, status, severity, tenant, product, version, space, hex, name string
	code                                                             int64
	at, firstSeen                                                    time.Duration // before now
	attempts, devices                                                uint64
	share                                                            float64
}

// alertRows: a1 firing (its transition delivered twice), a2 fired and
// resolved, a3 and a4 code-level alerts (no product) firing.
func alertRows() []alertRow {
	h, m := time.Hour, time.Minute
	a1 := alertRow{"a1", "firing", "critical", "t1", "App A", "2.0", "win32", "0x80070643", "ERROR_INSTALL_FAILURE", 1603, 3 * h, 3 * h, 3, 3, 0.6}
	a2 := alertRow{"a2", "firing", "warning", "t1", "App B", "3.1", "win32", "0x80070654", "ERROR_INSTALL_PACKAGE_INVALID", 1620, 40 * m, 40 * m, 1, 1, 1}
	a2r := a2
	a2r.status, a2r.at = "resolved", 10*m
	a3 := alertRow{"a3", "firing", "warning", "t2", "", "", "win32", "0x80070643", "ERROR_INSTALL_FAILURE", 1603, 3*h + 10*m, 3*h + 10*m, 1, 1, 1}
	a4 := alertRow{"a4", "firing", "warning", "t1", "", "", "hresult", "0x86000020", "CFGMGR_E_IMPERSONATIONERROR", -2046820320, 5 * h, 5 * h, 1, 1, 1}
	return []alertRow{a1, a1, a2, a2r, a3, a4}
}

func insertAlerts(t *testing.T, s *store.Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	batch, err := s.Conn().PrepareBatch(ctx, "INSERT INTO alerts (alert_id, status, level, at, tenant, csp, target_id, "+
		"product_name, product_version, code_space, code, code_hex, code_name, failures, devices, first_seen, summary, "+
		"severity, attempts, failed_share)")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alertRows() {
		level, target := "product", targetA
		if a.product == "" {
			level, target = "code", ""
		}
		err := batch.Append(a.id, a.status, level, now.Add(-a.at), a.tenant, msi, target, a.product, a.version,
			a.space, a.code, a.hex, a.name, a.attempts, a.devices, now.Add(-a.firstSeen), "summary of "+a.id,
			a.severity, a.attempts, a.share)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

// bucket is the start of the interval of at, as the panels bucket
// (intDiv(toUInt32(t), $__interval_s) * $__interval_s).
func bucket(at time.Time, interval time.Duration) string {
	sec := int64(interval / time.Second)
	return time.Unix(at.Unix()/sec*sec, 0).UTC().Format(time.DateTime)
}

// successSeries is the install success panel's rows for the finishes that
// pass keep: time|succeeded|failed|success_rate.
func successSeries(now time.Time, q query, fs []finish, keep func(finish) bool) []string {
	type count struct{ ok, failed int }
	per := map[string]*count{}
	for _, f := range fs {
		at := now.Add(-f.at)
		if at.Before(q.From) || at.After(q.To) || !keep(f) {
			continue
		}
		b := bucket(at, q.Interval)
		if per[b] == nil {
			per[b] = &count{}
		}
		if f.outcome == "succeeded" {
			per[b].ok++
		} else {
			per[b].failed++
		}
	}
	var out []string
	for b, c := range per {
		rate := math.Round(float64(c.ok)/float64(c.ok+c.failed)*1000) / 1000
		out = append(out, attempttest.Row(b, c.ok, c.failed, rate))
	}
	sort.Strings(out)
	return out
}

// causeSeries is the failures-by-cause panel's rows: time|cause|failed.
func causeSeries(now time.Time, q query, fs []finish, keep func(finish) bool) []string {
	per := map[[2]string]int{}
	for _, f := range fs {
		at := now.Add(-f.at)
		if f.outcome != "failed" || at.Before(q.From) || at.After(q.To) || !keep(f) {
			continue
		}
		per[[2]string{bucket(at, q.Interval), f.cause}]++
	}
	var out []string
	for k, n := range per {
		out = append(out, attempttest.Row(k[0], k[1], n))
	}
	sort.Strings(out)
	return out
}

// sum adds column col of rows.
func sum(t *testing.T, rows []string, col int) int {
	t.Helper()
	n := 0
	for _, r := range rows {
		v, err := strconv.Atoi(strings.Split(r, "|")[col])
		if err != nil {
			t.Fatalf("row %q column %d: %v", r, col, err)
		}
		n += v
	}
	return n
}

// Every panel's SQL, with its macros and variables expanded as Grafana and
// the plugin expand them for the last 24 hours and hour buckets, runs on
// ClickHouse (18.16 in the tests, the oldest server cspwatch supports)
// against a fleet whose attempts are known, and returns exactly the
// figures of that fleet, counted in attempts and devices: one failed MSI
// install is one failed attempt on one failed device. The fleet is stored
// twice (a redelivery) and must count once.
func TestPanelsOnClickHouse(t *testing.T) {
	d := loadDashboard(t)
	db := clickhousetest.NewDB(t)
	s := db.Store(t, nil)
	now := time.Now().UTC().Truncate(time.Second)
	attempttest.StoreFleet(t, s, now)
	finishes := finishes()
	insertAlerts(t, s, now)

	ts := func(ago time.Duration) string { return now.Add(-ago).Format(time.DateTime) }
	h, m, sec := time.Hour, time.Minute, time.Second
	unknownPA := "PA" + store.UnknownProduct
	allTenants := selection{All: true, Values: []string{"t1", "t2"}}
	allProducts := selection{All: true, Values: []string{"App A", "App B", "Microsoft 365 Apps", unknownPA}}
	base := query{From: now.Add(-24 * h), To: now, Interval: time.Hour}
	with := func(tenant, product selection) query {
		q := base
		q.Vars = map[string]selection{"tenant": tenant, "product": product}
		return q
	}
	all := with(allTenants, allProducts)
	t1AppB := with(selection{Values: []string{"t1"}}, selection{Values: []string{"App B"}})
	t1AppA := with(selection{Values: []string{"t1"}}, selection{Values: []string{"App A"}})
	keepAll := func(finish) bool { return true }
	keepT1AppB := func(f finish) bool { return f.tenant == "t1" && f.product == "App B" }

	type run struct {
		name  string
		q     query
		want  []string
		check func(t *testing.T, got []string) // more, when set
	}
	checks := map[string][]run{
		// time succeeded failed success_rate
		"Install attempts: succeeded and failed": {
			{"all", all, successSeries(now, all, finishes, keepAll), func(t *testing.T, got []string) {
				// d01, d02, d03, d08, d09, d10, d11, d13 and t2's d01
				// failed, d03 (its second attempt), d04, d06 and d16
				// succeeded; d12's failure is before the range.
				if ok, failed := sum(t, got, 1), sum(t, got, 2); ok != 4 || failed != 9 {
					t.Errorf("succeeded %d failed %d attempts in 24 h, want 4 and 9", ok, failed)
				}
			}},
			{"t1 App B", t1AppB, successSeries(now, t1AppB, finishes, keepT1AppB), nil},
		},
		// time cause failed
		"Failed attempts by cause": {
			{"all", all, causeSeries(now, all, finishes, keepAll), func(t *testing.T, got []string) {
				n := 0
				for _, r := range got {
					if strings.Split(r, "|")[1] == c1603 {
						n += sum(t, []string{r}, 2)
					}
				}
				if n != 5 {
					t.Errorf("%d failed attempts with 1603 in 24 h, want 5 (d01, d02, d03, d09, t2's d01)", n)
				}
			}},
			{"t1 App B", t1AppB, causeSeries(now, t1AppB, finishes, keepT1AppB), nil},
		},
		// product version tenant failed succeeded active devices failure_rate attempts failed_attempts csp target_id
		"Products and versions by failed devices": {
			{"all", all, []string{
				attempttest.Row("App B", "3.1", "t1", 4, 0, 0, 4, 1, 4, 4, msi, targetB),
				// d01, d02 failed; d03 failed, then succeeded; d04, d16
				// succeeded; d05, d07, d15 active. d12 is before the range,
				// d14 no install.
				attempttest.Row("App A", "2.0", "t1", 2, 3, 3, 8, 0.4, 10, 3, msi, targetA),
				attempttest.Row("Microsoft 365 Apps", "16.0.1", "t1", 1, 0, 0, 1, 1, 1, 1, office, targetOffice),
				attempttest.Row(unknownPA, "2.0", "t2", 1, 0, 0, 1, 1, 1, 1, msi, targetA),
				attempttest.Row("App A", "1.0", "t1", 0, 1, 0, 1, 0, 1, 0, msi, targetA),
			}, nil},
			{"t1 App A", t1AppA, []string{
				attempttest.Row("App A", "2.0", "t1", 2, 3, 3, 8, 0.4, 10, 3, msi, targetA),
				attempttest.Row("App A", "1.0", "t1", 0, 1, 0, 1, 0, 1, 0, msi, targetA),
			}, nil},
			// 48 hours reach d12's failure: a third failed device.
			{"48 h", func() query { q := all; q.From = now.Add(-48 * h); return q }(), nil, func(t *testing.T, got []string) {
				if want := attempttest.Row("App B", "3.1", "t1", 4, 0, 0, 4, 1, 4, 4, msi, targetB); len(got) == 0 || got[0] != want {
					t.Errorf("top row %q, want %q", got, want)
				}
				if want := attempttest.Row("App A", "2.0", "t1", 3, 3, 3, 9, 0.5, 11, 4, msi, targetA); len(got) < 2 || got[1] != want {
					t.Errorf("second row %q, want %q", got, want)
				}
			}},
		},
		// code_hex code_space code name category devices attempts products top_products tenant
		"Top causes of failed attempts": {
			{"all", all, []string{
				attempttest.Row("0x80070643", "win32", 1603, "ERROR_INSTALL_FAILURE", "installer", 4, 4, 2, "[App A 2.0,App B 3.1]", "t1"),
				attempttest.Row("0x86000020", "hresult", -2046820320, "CFGMGR_E_IMPERSONATIONERROR", "client", 1, 1, 1, "[App B 3.1]", "t1"),
				attempttest.Row("", "office_status", 17002, "ERROR_COMPLETING_SCENARIO", "installer", 1, 1, 1, "[Microsoft 365 Apps 16.0.1]", "t1"),
				attempttest.Row("0x80070652", "win32", 1618, "ERROR_INSTALL_ALREADY_RUNNING", "conflict", 1, 1, 1, "[App B 3.1]", "t1"),
				attempttest.Row("0x80070654", "win32", 1620, "ERROR_INSTALL_PACKAGE_INVALID", "content", 1, 1, 1, "[App B 3.1]", "t1"),
				attempttest.Row("0x80070643", "win32", 1603, "ERROR_INSTALL_FAILURE", "installer", 1, 1, 1, "[PA (unknown product) 2.0]", "t2"),
			}, nil},
			{"t1 App B", t1AppB, []string{
				attempttest.Row("0x86000020", "hresult", -2046820320, "CFGMGR_E_IMPERSONATIONERROR", "client", 1, 1, 1, "[App B 3.1]", "t1"),
				attempttest.Row("0x80070643", "win32", 1603, "ERROR_INSTALL_FAILURE", "installer", 1, 1, 1, "[App B 3.1]", "t1"),
				attempttest.Row("0x80070652", "win32", 1618, "ERROR_INSTALL_ALREADY_RUNNING", "conflict", 1, 1, 1, "[App B 3.1]", "t1"),
				attempttest.Row("0x80070654", "win32", 1620, "ERROR_INSTALL_PACKAGE_INVALID", "content", 1, 1, 1, "[App B 3.1]", "t1"),
			}, nil},
		},
		// requested_at age_hours tenant device product version outcome code_hex code_space code retries last_seen scope csp target_id
		"Stuck attempts": {
			{"all", all, []string{
				attempttest.Row(ts(8*h), 8, "t1", "d07", "App A", "2.0", "retrying", "0x80190194", "hresult", -2145844844, 1, ts(8*h-90*sec), event.ScopeDevice, msi, targetA),
				attempttest.Row(ts(6*h), 6, "t1", "d05", "App A", "2.0", "pending", "", "", 0, 0, ts(6*h-sec), event.ScopeDevice, msi, targetA),
			}, nil},
			{"t1 App B", t1AppB, nil, nil},
		},
		// first_seen severity tenant product version code_hex code_space code code_name attempts devices failed_share summary alert_id
		"Open alerts": {
			{"all", all, []string{
				attempttest.Row(ts(3*h), "critical", "t1", "App A", "2.0", "0x80070643", "win32", 1603, "ERROR_INSTALL_FAILURE", 3, 3, 0.6, "summary of a1", "a1"),
				attempttest.Row(ts(3*h+10*m), "warning", "t2", "", "", "0x80070643", "win32", 1603, "ERROR_INSTALL_FAILURE", 1, 1, 1, "summary of a3", "a3"),
				attempttest.Row(ts(5*h), "warning", "t1", "", "", "0x86000020", "hresult", -2046820320, "CFGMGR_E_IMPERSONATIONERROR", 1, 1, 1, "summary of a4", "a4"),
			}, nil},
			// App B's alert is resolved; t1's code-level alert stays.
			{"t1 App B", t1AppB, []string{
				attempttest.Row(ts(5*h), "warning", "t1", "", "", "0x86000020", "hresult", -2046820320, "CFGMGR_E_IMPERSONATIONERROR", 1, 1, 1, "summary of a4", "a4"),
			}, nil},
		},
	}

	panels := d.queryPanels()
	for _, p := range panels {
		t.Run(p.Title, func(t *testing.T) {
			runs, ok := checks[p.Title]
			if !ok {
				t.Fatalf("panel %q has no check", p.Title)
			}
			for _, r := range runs {
				sql, err := expand(p.Targets[0].RawSQL, r.q)
				if err != nil {
					t.Fatalf("%s: %v", r.name, err)
				}
				got := clickhousetest.Rows(t, s.Conn(), sql)
				if p.Type == "timeseries" {
					// The plugin turns rows into series in their order: time
					// first, ascending; within a bucket, any.
					if !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(a[:19], b[:19]) }) {
						t.Errorf("%s: rows not ordered by time:\n%s", r.name, strings.Join(got, "\n"))
					}
					sort.Strings(got)
				}
				if r.want != nil || r.check == nil {
					if !slices.Equal(got, r.want) {
						t.Errorf("%s:\n got  %s\n want %s", r.name, strings.Join(got, "\n      "), strings.Join(r.want, "\n      "))
					}
				}
				if r.check != nil {
					r.check(t, got)
				}
			}
		})
	}
	if len(panels) != len(checks) {
		t.Errorf("the dashboard has %d panels, the test checks %d", len(panels), len(checks))
	}

	// The variables list what the panels filter by.
	vars := []struct {
		name string
		q    query
		want []string
	}{
		{"tenant", all, []string{"t1", "t2"}},
		{"product", all, []string{"App A", "App B", "Microsoft 365 Apps", unknownPA}},
		{"product", with(selection{Values: []string{"t2"}}, allProducts), []string{unknownPA}},
	}
	for _, v := range vars {
		def, ok := d.variable(v.name)
		if !ok {
			t.Errorf("no variable %s", v.name)
			continue
		}
		sql, err := expand(def.Query.RawSQL, v.q)
		if err != nil {
			t.Errorf("variable %s: %v", v.name, err)
			continue
		}
		if got := clickhousetest.Rows(t, s.Conn(), sql); !slices.Equal(got, v.want) {
			t.Errorf("variable %s with %v: %q, want %q", v.name, v.q.Vars["tenant"], got, v.want)
		}
	}
}
