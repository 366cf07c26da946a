package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
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
	wantProducts := []store.ProductRate{
		{Tenant: "t1", CSP: event.CSPMSI, Product: "App A", Version: "1.0", Devices: 10, Succeeded: 7, Failed: 2, Active: 1},
		{Tenant: "t1", CSP: event.CSPMSI, Product: "App B", Version: "2.0", Devices: 5, Succeeded: 2, Failed: 3},
		// Nothing names OFFICE-1: its id, marked so.
		{Tenant: "t1", CSP: event.CSPOffice, Product: "OFFICE-1 (unknown product)", Devices: 3, Active: 3},
	}
	if fmt.Sprint(rep.Products) != fmt.Sprint(wantProducts) {
		t.Errorf("products\n got %+v\nwant %+v", rep.Products, wantProducts)
	}
	if r := rep.Products[0].SuccessRate(); r != 7.0/9 {
		t.Errorf("App A success rate %v", r)
	}
	appA := func(n uint64) store.CodeProduct {
		return store.CodeProduct{Tenant: "t1", CSP: event.CSPMSI, TargetID: "PA", Product: "App A", Version: "1.0", Events: n}
	}
	appB := func(n uint64) store.CodeProduct {
		return store.CodeProduct{Tenant: "t1", CSP: event.CSPMSI, TargetID: "PB", Product: "App B", Version: "2.0", Events: n}
	}
	wantCodes := []store.FailureCode{
		{CodeSpace: "win32", Code: 1603, Events: 3, Devices: 3, Products: 2, TopProducts: []store.CodeProduct{appA(2), appB(1)}},
		{CodeSpace: "win32", Code: 1618, Events: 3, Devices: 3, Products: 1, TopProducts: []store.CodeProduct{appB(3)}},
	}
	if fmt.Sprint(rep.FailureCodes) != fmt.Sprint(wantCodes) {
		t.Errorf("failure codes\n got %+v\nwant %+v", rep.FailureCodes, wantCodes)
	}
	if len(rep.Stuck) != 1 || rep.Stuck[0].DeviceID != "d10" || rep.Stuck[0].Product != "App A" ||
		!rep.Stuck[0].Since.Equal(now.Add(-10*time.Hour)) || rep.Stuck[0].Code != 40 {
		t.Errorf("stuck %+v, want d10 of App A in progress since %v", rep.Stuck, now.Add(-10*time.Hour))
	}
	// The window in events: all of t1's but the 48-hour-old one.
	if want := uint64(len(knownFleet(now)) - 2); rep.Events != want {
		t.Errorf("events %d, want %d", rep.Events, want)
	}
	if rep.Devices != 10 {
		t.Errorf("devices %d, want 10", rep.Devices)
	}

	// All tenants: t2's failure joins the 1603 count.
	all, err := s.FleetReport(ctx, store.ReportOptions{Now: now, Since: 24 * time.Hour, StuckAfter: 4 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.FailureCodes) == 0 || all.FailureCodes[0].Code != 1603 || all.FailureCodes[0].Events != 4 {
		t.Errorf("all tenants: failure codes %+v, want 1603 first with 4 events", all.FailureCodes)
	}
}

// A Win32 code and the FACILITY_WIN32 HRESULT that wraps it are one cause in
// the report, as in the spike detector: one row, its events and devices
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
	if len(rep.FailureCodes) != 1 {
		t.Fatalf("failure codes %+v, want one row", rep.FailureCodes)
	}
	if f := rep.FailureCodes[0]; f.CodeSpace != "win32" || f.Code != 1603 || f.Events != 6 || f.Devices != 4 {
		t.Fatalf("failure code %+v, want win32 1603 with 6 events on 4 devices", f)
	}
}
