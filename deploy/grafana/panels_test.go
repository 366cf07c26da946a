package grafana

import (
	"context"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/testkit/clickhousetest"
	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
)

func TestMain(m *testing.M) { os.Exit(clickhousetest.Main(m)) }

// timeline writes the events of one device and one MSI or Office target,
// each a number of seconds after its start, as a device and the MDM server
// report them (internal/store's tests build the same).
type timeline struct {
	at             time.Time
	tenant, device string
	csp, target    string
	events         []event.Event
}

func (tl *timeline) add(sec int, e event.Event) *timeline {
	n := len(tl.events)
	e.EventID = fmt.Sprintf("%s-%s-%s-e%03d", tl.tenant, tl.device, tl.target, n)
	e.SchemaVersion, e.Tenant, e.DeviceID, e.Scope = 1, tl.tenant, tl.device, event.ScopeDevice
	e.ReceivedAt = tl.at.Add(time.Duration(sec) * time.Second)
	e.MsgID, e.CmdID, e.SessionID = "3", int64(n%1000+1), fmt.Sprint(sec)
	e.CSP, e.TargetID = tl.csp, tl.target
	if e.CodeSpace != "" {
		// As ingest classifies a code (normalize).
		info := codes.Classify(codes.Space(e.CodeSpace), e.Code)
		e.CodeName, e.Category = info.Name, string(info.Category)
	}
	tl.events = append(tl.events, e)
	return tl
}

// install is the server's install command: the MSI node's DownloadInstall
// Exec with an MsiInstallJob of version, or the Office install Exec.
func (tl *timeline) install(sec int, version string) *timeline {
	e := event.Event{Kind: event.KindCommand, Command: event.CommandExec, Outcome: event.OutcomeRequested,
		CmdIDRaw: fmt.Sprint(sec)}
	if tl.csp == event.CSPOffice {
		e.Node, e.OfficeConfig = "Install", &event.OfficeConfig{Version: version}
	} else {
		e.Node, e.MSIJob = "DownloadInstall", &event.MSIJob{ProductVersion: version}
	}
	return tl.add(sec, e)
}

func (tl *timeline) status(sec int, node string, code int64, outcome string) *timeline {
	return tl.add(sec, event.Event{Kind: event.KindStatus, Node: node, Code: code, CodeSpace: "omadm", Outcome: outcome})
}

func (tl *timeline) result(sec int, node, space string, code int64, outcome string) *timeline {
	return tl.add(sec, event.Event{Kind: event.KindResult, Node: node, Code: code, CodeSpace: space, Outcome: outcome})
}

// lastError is the MSI node's LastError: an HRESULT, with its Win32 code
// when it is a FACILITY_WIN32 one.
func (tl *timeline) lastError(sec int, hresult, win32 int64) *timeline {
	return tl.add(sec, event.Event{Kind: event.KindResult, Node: "LastError", Code: hresult, CodeSpace: "hresult",
		Win32Code: win32, Outcome: "failed"})
}

func (tl *timeline) alert(sec int, code int64, outcome string) *timeline {
	return tl.add(sec, event.Event{Kind: event.KindAlert, Node: "DownloadInstall", Code: code, CodeSpace: "win32", Outcome: outcome})
}

func (tl *timeline) inventory(sec int, version string) *timeline {
	return tl.add(sec, event.Event{Kind: event.KindInventory, Outcome: "unknown",
		Product: &event.Product{Name: "Orca", Version: version}})
}

// failedMSI is one failed MSI install as a device reports it, three
// events: the install alert (1603), MSI Status 60 and LastError 0x80070643.
func (tl *timeline) failedMSI(sec int) *timeline {
	return tl.alert(sec, 1603, "failed").
		result(sec, "Status", "msi_status", 60, "failed").
		lastError(sec, -2147023293, 1603)
}

const (
	targetA      = "PA"
	targetB      = "PB"
	targetOffice = "O365"
	msi          = event.CSPMSI
	office       = event.CSPOffice
)

var adminNames = []store.AdminProduct{
	{Tenant: "t1", CSP: msi, TargetID: targetA, Name: "App A"},
	{Tenant: "t1", CSP: msi, TargetID: targetB, Name: "App B"},
	{Tenant: "t1", CSP: office, TargetID: targetOffice, Name: "Microsoft 365 Apps"},
}

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

// fleet is the fleet of internal/store's queries test, relative to now,
// and the attempts that finished in it. Every failed MSI install is the
// three events a device sends, so a panel counting events would count each
// three times.
//
//	t1 d01 App A 2.0   3h ago    failed 1603
//	t1 d02 App A 2.0   3h30 ago  failed 1603
//	t1 d03 App A 2.0   5h ago    failed 1603, then a new command 2h ago that succeeded
//	t1 d04 App A 2.0   2h ago    succeeded
//	t1 d05 App A 2.0   6h ago    pending (the command's 200, nothing since): stuck
//	t1 d06 App A 1.0   10h ago   succeeded
//	t1 d07 App A 2.0   8h ago    retrying after 0x80190194: stuck
//	t1 d08 App B 3.1   4h ago    failed 1618 (the alert alone)
//	t1 d09 App B 3.1   30m ago   failed 1603
//	t1 d10 App B 3.1   40m ago   failed 1620
//	t1 d11 Office      3h ago    failed 17002
//	t1 d12 App A 2.0   30h ago   failed 1603 (before the 24 h range)
//	t1 d13 App B 3.1   5h15 ago  failed 0x86000020 (Status 60 and LastError)
//	t1 d14 App A       2h ago    inventory only: no install
//	t1 d15 App A 2.0   1h ago    in progress: not stuck yet
//	t1 d16 App A 2.0   7h ago    pending, then a new command 2h ago that succeeded: not stuck
//	t2 d01 PA    2.0   3h10 ago  failed 1603 (t2 names no product)
func fleet(now time.Time) ([]event.Event, []finish) {
	var evs []event.Event
	add := func(tenant, device, target string, ago time.Duration, csp string, build func(*timeline)) {
		tl := &timeline{at: now.Add(-ago), tenant: tenant, device: device, csp: csp, target: target}
		build(tl)
		evs = append(evs, tl.events...)
	}
	h, m, s := time.Hour, time.Minute, time.Second
	add("t1", "d01", targetA, 3*h, msi, func(tl *timeline) { tl.install(0, "2.0").failedMSI(100) })
	add("t1", "d02", targetA, 3*h+30*m, msi, func(tl *timeline) { tl.install(0, "2.0").failedMSI(100) })
	add("t1", "d03", targetA, 5*h, msi, func(tl *timeline) {
		tl.install(0, "2.0").failedMSI(100).install(3*3600, "2.0").alert(3*3600+60, 0, "succeeded")
	})
	add("t1", "d04", targetA, 2*h, msi, func(tl *timeline) { tl.install(0, "2.0").alert(60, 0, "succeeded") })
	add("t1", "d05", targetA, 6*h, msi, func(tl *timeline) { tl.install(0, "2.0").status(1, "DownloadInstall", 200, "succeeded") })
	add("t1", "d06", targetA, 10*h, msi, func(tl *timeline) { tl.install(0, "1.0").alert(60, 0, "succeeded") })
	add("t1", "d07", targetA, 8*h, msi, func(tl *timeline) {
		tl.install(0, "2.0").result(30, "Status", "msi_status", 30, "failed").lastError(30, -2145844844, 0).
			result(90, "Status", "msi_status", 20, "in_progress")
	})
	add("t1", "d08", targetB, 4*h, msi, func(tl *timeline) { tl.install(0, "3.1").alert(100, 1618, "failed") })
	add("t1", "d09", targetB, 30*m, msi, func(tl *timeline) { tl.install(0, "3.1").failedMSI(100) })
	add("t1", "d10", targetB, 40*m, msi, func(tl *timeline) { tl.install(0, "3.1").alert(100, 1620, "failed") })
	add("t1", "d11", targetOffice, 3*h, office, func(tl *timeline) {
		tl.install(0, "16.0.1").status(1, "Install", 202, "in_progress").
			result(300, "Status", "office_status", 17002, "failed").result(300, "FinalStatus", "office_final", 60, "failed")
	})
	add("t1", "d12", targetA, 30*h, msi, func(tl *timeline) { tl.install(0, "2.0").failedMSI(100) })
	add("t1", "d13", targetB, 5*h+15*m, msi, func(tl *timeline) {
		tl.install(0, "3.1").result(100, "Status", "msi_status", 60, "failed").lastError(100, -2046820320, 0) // 0x86000020
	})
	add("t1", "d14", targetA, 2*h, msi, func(tl *timeline) { tl.inventory(0, "9.9") })
	add("t1", "d15", targetA, 1*h, msi, func(tl *timeline) { tl.install(0, "2.0").result(60, "Status", "msi_status", 20, "in_progress") })
	add("t1", "d16", targetA, 7*h, msi, func(tl *timeline) {
		tl.install(0, "2.0").status(1, "DownloadInstall", 200, "succeeded").
			install(5*3600, "2.0").alert(5*3600+60, 0, "succeeded")
	})
	add("t2", "d01", targetA, 3*h+10*m, msi, func(tl *timeline) { tl.install(0, "2.0").failedMSI(100) })

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
	return evs, finishes
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

// rows runs q and returns its rows, fields joined by "|": a time as UTC
// "YYYY-MM-DD hh:mm:ss", an array as [a,b].
func rows(t *testing.T, s *store.Store, q string) []string {
	t.Helper()
	rs, err := s.Conn().Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rs.Close()
	var got []string
	types := rs.ColumnTypes()
	for rs.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rs.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			switch x := reflect.ValueOf(v).Elem().Interface().(type) {
			case time.Time:
				parts[i] = x.UTC().Format(time.DateTime)
			case []string:
				parts[i] = "[" + strings.Join(x, ",") + "]"
			default:
				parts[i] = fmt.Sprint(x)
			}
		}
		got = append(got, strings.Join(parts, "|"))
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return got
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
		out = append(out, fmtRow(b, c.ok, c.failed, rate))
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
		out = append(out, fmtRow(k[0], k[1], n))
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
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	evs, finishes := fleet(now)
	for range 2 {
		if err := s.InsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertAdminProducts(ctx, adminNames, now); err != nil {
		t.Fatal(err)
	}
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
				fmtRow("App B", "3.1", "t1", 4, 0, 0, 4, 1, 4, 4, msi, targetB),
				// d01, d02 failed; d03 failed, then succeeded; d04, d16
				// succeeded; d05, d07, d15 active. d12 is before the range,
				// d14 no install.
				fmtRow("App A", "2.0", "t1", 2, 3, 3, 8, 0.4, 10, 3, msi, targetA),
				fmtRow("Microsoft 365 Apps", "16.0.1", "t1", 1, 0, 0, 1, 1, 1, 1, office, targetOffice),
				fmtRow(unknownPA, "2.0", "t2", 1, 0, 0, 1, 1, 1, 1, msi, targetA),
				fmtRow("App A", "1.0", "t1", 0, 1, 0, 1, 0, 1, 0, msi, targetA),
			}, nil},
			{"t1 App A", t1AppA, []string{
				fmtRow("App A", "2.0", "t1", 2, 3, 3, 8, 0.4, 10, 3, msi, targetA),
				fmtRow("App A", "1.0", "t1", 0, 1, 0, 1, 0, 1, 0, msi, targetA),
			}, nil},
			// 48 hours reach d12's failure: a third failed device.
			{"48 h", func() query { q := all; q.From = now.Add(-48 * h); return q }(), nil, func(t *testing.T, got []string) {
				if want := fmtRow("App B", "3.1", "t1", 4, 0, 0, 4, 1, 4, 4, msi, targetB); len(got) == 0 || got[0] != want {
					t.Errorf("top row %q, want %q", got, want)
				}
				if want := fmtRow("App A", "2.0", "t1", 3, 3, 3, 9, 0.5, 11, 4, msi, targetA); len(got) < 2 || got[1] != want {
					t.Errorf("second row %q, want %q", got, want)
				}
			}},
		},
		// code_hex code_space code name category devices attempts products top_products tenant
		"Top causes of failed attempts": {
			{"all", all, []string{
				fmtRow("0x80070643", "win32", 1603, "ERROR_INSTALL_FAILURE", "installer", 4, 4, 2, "[App A 2.0,App B 3.1]", "t1"),
				fmtRow("0x86000020", "hresult", -2046820320, "CFGMGR_E_IMPERSONATIONERROR", "client", 1, 1, 1, "[App B 3.1]", "t1"),
				fmtRow("", "office_status", 17002, "ERROR_COMPLETING_SCENARIO", "installer", 1, 1, 1, "[Microsoft 365 Apps 16.0.1]", "t1"),
				fmtRow("0x80070652", "win32", 1618, "ERROR_INSTALL_ALREADY_RUNNING", "conflict", 1, 1, 1, "[App B 3.1]", "t1"),
				fmtRow("0x80070654", "win32", 1620, "ERROR_INSTALL_PACKAGE_INVALID", "content", 1, 1, 1, "[App B 3.1]", "t1"),
				fmtRow("0x80070643", "win32", 1603, "ERROR_INSTALL_FAILURE", "installer", 1, 1, 1, "[PA (unknown product) 2.0]", "t2"),
			}, nil},
			{"t1 App B", t1AppB, []string{
				fmtRow("0x86000020", "hresult", -2046820320, "CFGMGR_E_IMPERSONATIONERROR", "client", 1, 1, 1, "[App B 3.1]", "t1"),
				fmtRow("0x80070643", "win32", 1603, "ERROR_INSTALL_FAILURE", "installer", 1, 1, 1, "[App B 3.1]", "t1"),
				fmtRow("0x80070652", "win32", 1618, "ERROR_INSTALL_ALREADY_RUNNING", "conflict", 1, 1, 1, "[App B 3.1]", "t1"),
				fmtRow("0x80070654", "win32", 1620, "ERROR_INSTALL_PACKAGE_INVALID", "content", 1, 1, 1, "[App B 3.1]", "t1"),
			}, nil},
		},
		// requested_at age_hours tenant device product version outcome code_hex code_space code retries last_seen scope csp target_id
		"Stuck attempts": {
			{"all", all, []string{
				fmtRow(ts(8*h), 8, "t1", "d07", "App A", "2.0", "retrying", "0x80190194", "hresult", -2145844844, 1, ts(8*h-90*sec), event.ScopeDevice, msi, targetA),
				fmtRow(ts(6*h), 6, "t1", "d05", "App A", "2.0", "pending", "", "", 0, 0, ts(6*h-sec), event.ScopeDevice, msi, targetA),
			}, nil},
			{"t1 App B", t1AppB, nil, nil},
		},
		// first_seen severity tenant product version code_hex code_space code code_name attempts devices failed_share summary alert_id
		"Open alerts": {
			{"all", all, []string{
				fmtRow(ts(3*h), "critical", "t1", "App A", "2.0", "0x80070643", "win32", 1603, "ERROR_INSTALL_FAILURE", 3, 3, 0.6, "summary of a1", "a1"),
				fmtRow(ts(3*h+10*m), "warning", "t2", "", "", "0x80070643", "win32", 1603, "ERROR_INSTALL_FAILURE", 1, 1, 1, "summary of a3", "a3"),
				fmtRow(ts(5*h), "warning", "t1", "", "", "0x86000020", "hresult", -2046820320, "CFGMGR_E_IMPERSONATIONERROR", 1, 1, 1, "summary of a4", "a4"),
			}, nil},
			// App B's alert is resolved; t1's code-level alert stays.
			{"t1 App B", t1AppB, []string{
				fmtRow(ts(5*h), "warning", "t1", "", "", "0x86000020", "hresult", -2046820320, "CFGMGR_E_IMPERSONATIONERROR", 1, 1, 1, "summary of a4", "a4"),
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
				got := rows(t, s, sql)
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
		if got := rows(t, s, sql); !slices.Equal(got, v.want) {
			t.Errorf("variable %s with %v: %q, want %q", v.name, v.q.Vars["tenant"], got, v.want)
		}
	}
}
