package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/attempttest"
)

// knownFleet is a fleet whose report is worked out by hand in
// TestFleetReport.
func knownFleet(now time.Time) []event.Event {
	var evs []event.Event
	n := 0
	add := func(tenant, device, csp, target, kind string, code int64, space, outcome string, at time.Time, prod *event.Product) {
		n++
		evs = append(evs, event.Event{
			EventID: fmt.Sprintf("%032x", n), SchemaVersion: 1, ReceivedAt: at,
			Tenant: tenant, DeviceID: device, SessionID: "s", MsgID: "1", Kind: kind, CmdID: int64(n % 10),
			Scope: event.ScopeDevice, CSP: csp, TargetID: target, Node: "DownloadInstall",
			Code: code, CodeSpace: space, Outcome: outcome, Product: prod,
		})
	}
	a := &event.Product{Name: "App A", Version: "1.0"}
	b := &event.Product{Name: "App B", Version: "2.0"}
	h := func(d float64) time.Time { return now.Add(-time.Duration(d * float64(time.Hour))) }
	for i := 1; i <= 10; i++ {
		dev := fmt.Sprintf("d%02d", i)
		add("t1", dev, event.CSPMSI, "PA", event.KindInventory, 0, "", "unknown", h(12), a)
		switch {
		case i <= 7:
			add("t1", dev, event.CSPMSI, "PA", event.KindAlert, 0, "win32", "succeeded", h(11), nil)
		case i <= 9:
			add("t1", dev, event.CSPMSI, "PA", event.KindAlert, 1603, "win32", "failed", h(11), nil)
		default:
			add("t1", dev, event.CSPMSI, "PA", event.KindResult, 40, "msi_status", "in_progress", h(10), nil)
			add("t1", dev, event.CSPMSI, "PA", event.KindResult, 40, "msi_status", "in_progress", h(1), nil)
		}
	}
	for i := 1; i <= 5; i++ {
		dev := fmt.Sprintf("d%02d", i)
		add("t1", dev, event.CSPMSI, "PB", event.KindInventory, 0, "", "unknown", h(20), b)
		switch {
		case i <= 3:
			add("t1", dev, event.CSPMSI, "PB", event.KindAlert, 1618, "win32", "failed", h(5), nil)
		case i == 4:
			add("t1", dev, event.CSPMSI, "PB", event.KindAlert, 0, "win32", "succeeded", h(5), nil)
		default: // failed, then succeeded: its state is succeeded
			add("t1", dev, event.CSPMSI, "PB", event.KindAlert, 1603, "win32", "failed", h(6), nil)
			add("t1", dev, event.CSPMSI, "PB", event.KindAlert, 0, "win32", "succeeded", h(2), nil)
		}
	}
	for i := 1; i <= 3; i++ {
		add("t1", fmt.Sprintf("d%02d", i), event.CSPOffice, "OFFICE-1", event.KindResult, 997, "office_status", "in_progress", h(1), nil)
	}
	// Outside the window, and another tenant: neither may show.
	add("t1", "d01", event.CSPMSI, "PC", event.KindAlert, 1605, "win32", "failed", h(48), &event.Product{Name: "Old", Version: "0.1"})
	add("t2", "x01", event.CSPMSI, "PA", event.KindAlert, 1603, "win32", "failed", h(3), a)
	return evs
}

// TestFleetReport checks the report of knownFleet, whose devices send no
// install command: each device's events of a target are one attempt (attempt
// 0), which its last informative event decides.
func TestFleetReport(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	// Twice: a replayed batch must not change one figure (schema/001).
	for range 2 {
		if err := s.InsertEvents(ctx, knownFleet(now)); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := s.FleetReport(ctx, store.ReportOptions{Now: now, Since: 24 * time.Hour, Tenant: "t1", StuckAfter: 4 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	wantProducts := []store.ProductInstalls{
		// d05 failed and then succeeded within one attempt: succeeded.
		{Tenant: "t1", CSP: event.CSPMSI, Product: "App B", Version: "2.0", TargetID: "PB", Devices: 5, Succeeded: 2, Failed: 3, Attempts: 5, FailedAttempts: 3},
		{Tenant: "t1", CSP: event.CSPMSI, Product: "App A", Version: "1.0", TargetID: "PA", Devices: 10, Succeeded: 7, Failed: 2, Active: 1, Attempts: 10, FailedAttempts: 2},
		// Nothing names OFFICE-1: its id, marked so.
		{Tenant: "t1", CSP: event.CSPOffice, Product: "OFFICE-1 (unknown product)", TargetID: "OFFICE-1", Devices: 3, Active: 3, Attempts: 3},
	}
	if fmt.Sprint(rep.Products) != fmt.Sprint(wantProducts) {
		t.Errorf("products\n got %+v\nwant %+v", rep.Products, wantProducts)
	}
	if r := rep.Products[1].SuccessRate(); r != 7.0/9 {
		t.Errorf("App A success rate %v", r)
	}
	if got := causeRows(rep.Causes); fmt.Sprint(got) != fmt.Sprint([]string{
		"win32:1618 devices 3 attempts 3 hex 0x80070652 [App B 2.0 3/3]",
		"win32:1603 devices 2 attempts 2 hex 0x80070643 [App A 1.0 2/2]",
	}) {
		t.Errorf("causes %q", got)
	}
	// d10's attempt began with its inventory, 12 hours ago.
	if len(rep.Stuck) != 1 || rep.Stuck[0].DeviceID != "d10" || rep.Stuck[0].Product != "App A" || rep.Stuck[0].Outcome != "in_progress" ||
		!rep.Stuck[0].RequestedAt.Equal(now.Add(-12*time.Hour)) || rep.Stuck[0].Age != 12*time.Hour {
		t.Errorf("stuck %+v, want d10 of App A in progress for 12h", rep.Stuck)
	}
	// All of t1's events but the 48-hour-old one are in the attempts.
	if want := uint64(len(knownFleet(now)) - 2); rep.Events != want {
		t.Errorf("events %d, want %d", rep.Events, want)
	}
	if rep.Devices != 10 || rep.Attempts != 18 {
		t.Errorf("devices %d, attempts %d; want 10 and 18", rep.Devices, rep.Attempts)
	}

	// All tenants: t2's failure joins the 1603 count.
	all, err := s.FleetReport(ctx, store.ReportOptions{Now: now, Since: 24 * time.Hour, StuckAfter: 4 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Causes) == 0 || all.Causes[0].Code != 1603 || all.Causes[0].Devices != 3 || all.Causes[0].Attempts != 3 {
		t.Errorf("all tenants: causes %+v, want 1603 first with 3 devices and 3 attempts", all.Causes)
	}
}

// causeRows prints causes as "space:code devices N attempts N hex H
// [product version devices/attempts ...]".
func causeRows(cs []store.Cause) []string {
	var out []string
	for _, c := range cs {
		var ps []string
		for _, p := range c.Products {
			ps = append(ps, strings.TrimSpace(fmt.Sprintf("%s %s %d/%d", p.Product, p.Version, p.Devices, p.Attempts)))
		}
		out = append(out, fmt.Sprintf("%s:%d devices %d attempts %d hex %s [%s]", c.Space, c.Code, c.Devices, c.Attempts,
			c.CodeHex, strings.Join(ps, ", ")))
	}
	return out
}

// A Win32 code and the FACILITY_WIN32 HRESULT that wraps it are one cause in
// the report, as in the spike detector: one row, its attempts and devices
// counted once across both forms.
func TestReportFoldsWin32HRESULTs(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	var evs []event.Event
	for i := range 6 {
		e := mkEvent(i, fmt.Sprintf("dev%d", i%4), "failed", 1603, now.Add(-time.Duration(i)*time.Minute))
		if i%2 == 1 { // the same failure as an install alert's HRESULT
			e.Code, e.CodeSpace, e.CodeHex, e.Win32Code = -2147023293, "hresult", "0x80070643", 1603
		}
		evs = append(evs, e)
	}
	if err := s.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	rep, err := s.FleetReport(ctx, store.ReportOptions{Now: now.Add(time.Minute), Since: time.Hour, StuckAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Causes) != 1 {
		t.Fatalf("causes %+v, want one row", rep.Causes)
	}
	// No install command: each device's failures are one attempt.
	if c := rep.Causes[0]; c.Space != "win32" || c.Code != 1603 || c.CodeHex != "0x80070643" || c.Attempts != 4 || c.Devices != 4 ||
		c.Name != "ERROR_INSTALL_FAILURE" || c.Advice == "" {
		t.Fatalf("cause %+v, want win32 1603 (0x80070643) with 4 attempts on 4 devices, named, with advice", c)
	}
}

// The targets and times of reportFleet.
const (
	rfVPN    = "PRODUCT-VPN"
	rfOffice = "90160000-008C-0000-1000-0000000FF1CE"
)

var rfStart = time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)

// rfNow is when TestFleetReportCountsDevicesAndAttempts reports: 10 hours
// after the fleet's installs began.
var rfNow = rfStart.Add(10 * time.Hour)

// fleet gathers timelines of several devices, tenants and targets.
type fleet struct{ evs []event.Event }

// add takes tl's events (built with attempttest, for d1
// of t1) for device of tenant and, when tl names one, target, with event
// ids of their own.
func (f *fleet) add(tenant, device, target string, tl *attempttest.Timeline) {
	for i, e := range tl.Events {
		e.Tenant, e.DeviceID = tenant, device
		if e.TargetID != "" {
			e.TargetID = target
		}
		e.EventID = fmt.Sprintf("%s/%s/%s/%03d", tenant, device, target, i)
		f.evs = append(f.evs, e)
	}
}

// reportFleet is a fleet whose report is known: Contoso VPN (MSI) in two
// versions and Microsoft 365 Apps (Office) on ten devices of tenant t1, each
// failed MSI install reported three times (alert, Status 60, LastError), plus
// what the report must leave out: another tenant, an attempt before the
// window and an event that names no CSP. Times are seconds after rfStart.
func reportFleet() []event.Event {
	msi, office := event.CSPMSI, event.CSPOffice
	const v1, v2, o = "2.0.1", "2.0.2", "16.0.18129.20158"
	var f fleet
	vpn := func(device string, tl *attempttest.Timeline) { f.add("t1", device, rfVPN, tl) }
	off := func(device string, tl *attempttest.Timeline) { f.add("t1", device, rfOffice, tl) }
	// Contoso VPN 2.0.1.
	vpn("d01", attempttest.New(msi).Install(0, v1).FailedMSI(100))
	vpn("d02", attempttest.New(msi).Install(0, v1).FailedMSI(120))
	// Failed, then succeeded on a new command: a succeeded device.
	vpn("d03", attempttest.New(msi).Install(0, v1).FailedMSI(100).Install(3600, v1).SucceededMSI(3700))
	vpn("d04", attempttest.New(msi).Install(0, v1).SucceededMSI(200))
	// Retrying a download since the start: active, and stuck.
	vpn("d05", attempttest.New(msi).Install(0, v1).Result(30, "Status", "msi_status", 30, "failed").
		LastError(30, -2145844844, 0).Result(90, "Status", "msi_status", 25, "retrying").
		Result(150, "Status", "msi_status", 20, "in_progress"))
	vpn("d10", attempttest.New(msi).Install(0, v1).FailedMSI1618(300))
	// Contoso VPN 2.0.2.
	vpn("d06", attempttest.New(msi).Install(0, v2).Status(1, "DownloadInstall", 200, "succeeded"))                    // pending 10h: stuck
	vpn("d07", attempttest.New(msi).Install(7*3600, v2).Result(7*3600+60, "Status", "msi_status", 20, "in_progress")) // 3h: not stuck
	vpn("d08", attempttest.New(msi).Install(0, v2).FailedMSI(400))
	vpn("d09", attempttest.New(msi).Install(0, v2).SucceededMSI(400))
	// Microsoft 365 Apps.
	off("d01", attempttest.New(office).Install(0, o).Status(1, "Install", 202, "in_progress").
		Result(900, "Status", "office_status", 17002, "failed").Result(900, "FinalStatus", "office_final", 60, "failed"))
	off("d02", attempttest.New(office).Install(0, o).Result(900, "Status", "office_status", 0, "succeeded").
		Result(900, "FinalStatus", "office_final", 70, "succeeded"))
	off("d03", attempttest.New(office).Install(3600, o).Status(3601, "Install", 202, "in_progress").
		Result(4000, "Status", "office_status", 997, "in_progress")) // 9h: stuck
	// Left out: another tenant (in the all-tenants report only), an
	// attempt that ended 30 hours ago, before the 24-hour window, and an
	// OMA-DM status that names a target but no CSP.
	f.add("t2", "x01", rfVPN, attempttest.New(msi).Install(0, v1).FailedMSI(100))
	vpn("d11", attempttest.New(msi).Install(-31*3600, "2.0.0").FailedMSI(-30*3600))
	f.add("t1", "d12", "ORPHAN", attempttest.New(msi).Add(50, event.Event{Kind: event.KindStatus, CSP: "", TargetID: "ORPHAN",
		CmdRefRaw: "x", Code: 418, CodeSpace: "omadm", Outcome: "failed"}))
	return f.evs
}

// The report of reportFleet, worked out by hand, in devices and attempts.
func TestFleetReportCountsDevicesAndAttempts(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	evs := reportFleet()
	// Twice: a replay changes nothing.
	for range 2 {
		if err := s.InsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertAdminProducts(ctx, []store.AdminProduct{
		{Tenant: "t1", CSP: event.CSPMSI, TargetID: rfVPN, Name: "Contoso VPN"},
		{Tenant: "t1", CSP: event.CSPOffice, TargetID: rfOffice, Name: "Microsoft 365 Apps"},
	}, rfStart); err != nil {
		t.Fatal(err)
	}
	report := func(t *testing.T, o store.ReportOptions) store.Report {
		t.Helper()
		o.Now = rfNow
		if o.Since == 0 {
			o.Since = 24 * time.Hour
		}
		if o.StuckAfter == 0 {
			o.StuckAfter = 4 * time.Hour
		}
		rep, err := s.FleetReport(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := report(t, store.ReportOptions{Tenant: "t1"})

	t.Run("products", func(t *testing.T) {
		msi, office := event.CSPMSI, event.CSPOffice
		want := []store.ProductInstalls{
			// d01, d02, d10 failed; d03 failed then succeeded; d04 succeeded; d05 retrying.
			{Tenant: "t1", CSP: msi, Product: "Contoso VPN", Version: "2.0.1", TargetID: rfVPN,
				Devices: 6, Succeeded: 2, Failed: 3, Active: 1, Attempts: 7, FailedAttempts: 4},
			// One failed device each: more devices first.
			{Tenant: "t1", CSP: msi, Product: "Contoso VPN", Version: "2.0.2", TargetID: rfVPN,
				Devices: 4, Succeeded: 1, Failed: 1, Active: 2, Attempts: 4, FailedAttempts: 1},
			{Tenant: "t1", CSP: office, Product: "Microsoft 365 Apps", Version: "16.0.18129.20158", TargetID: rfOffice,
				Devices: 3, Succeeded: 1, Failed: 1, Active: 1, Attempts: 3, FailedAttempts: 1},
		}
		if fmt.Sprint(rep.Products) != fmt.Sprint(want) {
			t.Errorf("products\n got %+v\nwant %+v", rep.Products, want)
		}
	})

	t.Run("causes", func(t *testing.T) {
		// One cause per failed attempt, never msi_status 60 nor the
		// HRESULT beside it; d03's superseded failure counts as an attempt,
		// not as a device.
		want := []string{
			"win32:1603 devices 3 attempts 4 hex 0x80070643 [Contoso VPN 2.0.1 2/3, Contoso VPN 2.0.2 1/1]",
			"office_status:17002 devices 1 attempts 1 hex  [Microsoft 365 Apps 16.0.18129.20158 1/1]",
			"win32:1618 devices 1 attempts 1 hex 0x80070652 [Contoso VPN 2.0.1 1/1]",
		}
		if got := causeRows(rep.Causes); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("causes\n got %q\nwant %q", got, want)
		}
		for _, c := range rep.Causes {
			if c.Name == "" || c.Category == "" || c.Advice == "" || c.Source == "" {
				t.Errorf("cause %s:%d lacks name, category, advice or source: %+v", c.Space, c.Code, c)
			}
		}
		if len(rep.Causes) > 0 && rep.Causes[0].Name != "ERROR_INSTALL_FAILURE" {
			t.Errorf("1603 named %q", rep.Causes[0].Name)
		}
	})

	t.Run("stuck", func(t *testing.T) {
		var got []string
		for _, d := range rep.Stuck {
			got = append(got, fmt.Sprintf("%s %s %s %s age %s requested %s cmd %v", d.DeviceID, d.Product, d.Version,
				d.Outcome, d.Age, d.RequestedAt.Format("15:04"), d.HasCommand))
			if d.LastSeen.Before(d.RequestedAt) || d.AttemptID == "" {
				t.Errorf("stuck %+v: last seen before requested, or no attempt id", d)
			}
		}
		want := []string{
			"d05 Contoso VPN 2.0.1 retrying age 10h0m0s requested 05:00 cmd true",
			"d06 Contoso VPN 2.0.2 pending age 10h0m0s requested 05:00 cmd true",
			"d03 Microsoft 365 Apps 16.0.18129.20158 in_progress age 9h0m0s requested 06:00 cmd true",
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("stuck\n got %q\nwant %q", got, want)
		}
	})

	t.Run("totals", func(t *testing.T) {
		var events uint64
		for _, e := range evs {
			if e.Tenant == "t1" && e.CSP != "" && !e.ReceivedAt.Before(rep.From) {
				events++
			}
		}
		if rep.Devices != 10 || rep.Attempts != 14 || rep.Events != events {
			t.Errorf("devices %d, attempts %d, events %d; want 10, 14, %d", rep.Devices, rep.Attempts, rep.Events, events)
		}
		if !rep.From.Equal(rfNow.Add(-24*time.Hour)) || !rep.To.Equal(rfNow) || rep.Lookback != store.DefaultReportLookback {
			t.Errorf("window %v to %v, lookback %v", rep.From, rep.To, rep.Lookback)
		}
	})

	t.Run("the window ends at now rounded up to the second", func(t *testing.T) {
		r, err := s.FleetReport(ctx, store.ReportOptions{Now: rfNow.Add(-300 * time.Millisecond), Since: 24 * time.Hour,
			Tenant: "t1", StuckAfter: 4 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if !r.To.Equal(rfNow) || fmt.Sprint(r.Products) != fmt.Sprint(rep.Products) {
			t.Errorf("to %v, products %+v", r.To, r.Products)
		}
	})

	t.Run("top bounds causes and stuck", func(t *testing.T) {
		top := report(t, store.ReportOptions{Tenant: "t1", Top: 2})
		if len(top.Causes) != 2 || len(top.Stuck) != 2 || top.Stuck[1].DeviceID != "d06" || len(top.Products) != 3 {
			t.Errorf("top 2: %d causes, stuck %+v, %d products", len(top.Causes), top.Stuck, len(top.Products))
		}
	})

	t.Run("stuck after", func(t *testing.T) {
		// Two hours: d07, requested three hours ago, is stuck too.
		r := report(t, store.ReportOptions{Tenant: "t1", StuckAfter: 2 * time.Hour})
		if len(r.Stuck) != 4 || r.Stuck[3].DeviceID != "d07" || r.Stuck[3].Age != 3*time.Hour {
			t.Errorf("stuck after 2h: %+v", r.Stuck)
		}
	})

	t.Run("all tenants", func(t *testing.T) {
		all := report(t, store.ReportOptions{})
		if len(all.Causes) == 0 || all.Causes[0].Code != 1603 || all.Causes[0].Devices != 4 || all.Causes[0].Attempts != 5 {
			t.Errorf("all tenants: causes %q, want 1603 on 4 devices in 5 attempts", causeRows(all.Causes))
		}
		if all.Devices != 11 {
			t.Errorf("all tenants: %d devices, want 11", all.Devices)
		}
		for _, p := range all.Products {
			if p.CSP == "" {
				t.Errorf("a product with no CSP: %+v", p)
			}
		}
	})

	t.Run("lookback", func(t *testing.T) {
		// d11's failure, 40 hours before the report, is in a window of
		// 40h30m; its install command, 41 hours before, is not. Read with
		// the default lookback, the attempt keeps its command and the
		// version it installs; with a 10-minute one, it has neither.
		version := func(r store.Report) []string {
			var vs []string
			for _, p := range r.Products {
				if p.Failed > 0 && p.Version == "2.0.0" {
					vs = append(vs, fmt.Sprintf("%s %s %d/%d", p.Product, p.Version, p.Devices, p.Failed))
				}
			}
			return vs
		}
		const since = 40*time.Hour + 30*time.Minute
		if got := version(report(t, store.ReportOptions{Tenant: "t1", Since: since})); fmt.Sprint(got) != "[Contoso VPN 2.0.0 1/1]" {
			t.Errorf("default lookback: 2.0.0 rows %q, want d11's failure", got)
		}
		if got := version(report(t, store.ReportOptions{Tenant: "t1", Since: since, Lookback: 10 * time.Minute})); len(got) != 0 {
			t.Errorf("10-minute lookback: 2.0.0 rows %q, want none (the command is out of reach)", got)
		}
	})
}

func TestCauseHex(t *testing.T) {
	tests := []struct {
		space string
		code  int64
		want  string
	}{
		{"win32", 1603, "0x80070643"},
		{"win32", 1618, "0x80070652"},
		{"win32", 5, "0x80070005"},
		{"hresult", -2016345060, "0x87d1041c"},
		{"hresult", -2147023293, "0x80070643"},
		{"office_status", 17002, ""},
		{"office_status", -2147023293, "0x80070643"},
		{"msi_status", 60, ""},
		{"omadm", 404, ""},
		{"win32", 0, ""},
		{"win32", 70000, ""},
		{"", 0, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s:%d", tt.space, tt.code), func(t *testing.T) {
			if got := store.CauseHex(tt.space, tt.code); got != tt.want {
				t.Fatalf("CauseHex(%s, %d) = %q, want %q", tt.space, tt.code, got, tt.want)
			}
		})
	}
}

// An attempt stuck since before the report's window, with no event in it,
// is still listed as stuck: the longest-stuck are the ones that matter.
func TestReportListsAttemptsStuckBeforeTheWindow(t *testing.T) {
	s := open(t)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	old := attempttest.New(event.CSPMSI)
	old.At = now.Add(-30 * time.Hour)
	old.Install(0, "1.0").Status(1, "DownloadInstall", 200, "succeeded")
	if err := s.InsertEvents(context.Background(), old.Events); err != nil {
		t.Fatal(err)
	}
	rep, err := s.FleetReport(context.Background(), store.ReportOptions{Now: now, Since: 24 * time.Hour, StuckAfter: 4 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Stuck) != 1 || rep.Stuck[0].Outcome != "pending" || rep.Stuck[0].Age != 30*time.Hour {
		t.Fatalf("stuck %+v, want the pending attempt requested 30h ago", rep.Stuck)
	}
	if rep.Attempts != 0 {
		t.Fatalf("%d attempts in the window, want 0: the stuck one has no event in it", rep.Attempts)
	}
}
