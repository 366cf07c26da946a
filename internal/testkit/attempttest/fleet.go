package attempttest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
)

// Targets of Fleet.
const (
	TargetA      = "PA"
	TargetB      = "PB"
	TargetOffice = "O365"
)

// FleetNames are the administrator's names of Fleet's targets: tenant t1
// names them, tenant t2 names nothing.
var FleetNames = []store.AdminProduct{
	{Tenant: "t1", CSP: event.CSPMSI, TargetID: TargetA, Name: "App A"},
	{Tenant: "t1", CSP: event.CSPMSI, TargetID: TargetB, Name: "App B"},
	{Tenant: "t1", CSP: event.CSPOffice, TargetID: TargetOffice, Name: "Microsoft 365 Apps"},
}

// Fleet is a fleet whose attempts are known, relative to now. Every failed
// MSI install is the three events a device sends (FailedMSI), so a query
// counting events would count each three times.
//
//	t1 d01 App A 2.0   3h ago    failed 1603
//	t1 d02 App A 2.0   3h30 ago  failed 1603
//	t1 d03 App A 2.0   5h ago    failed 1603, then a new command 2h ago that succeeded
//	t1 d04 App A 2.0   2h ago    succeeded
//	t1 d05 App A 2.0   6h ago    pending (the command's 200, nothing since): stuck
//	t1 d06 App A 1.0   10h ago   succeeded
//	t1 d07 App A 2.0   8h ago    retrying after 0x80190194: stuck
//	t1 d08 App B 3.1   4h ago    failed 1618 (the alert alone)
//	t1 d09 App B 3.1   30m ago   failed 1603 (not new: 1603 failed in the 7 days before)
//	t1 d10 App B 3.1   40m ago   failed 1620 (new in the last hour)
//	t1 d11 Office      3h ago    failed 17002
//	t1 d12 App A 2.0   30h ago   failed 1603 (before a 24 h window)
//	t1 d13 App B 3.1   5h15 ago  failed 0x86000020 (Status 60 and LastError)
//	t1 d14 App A       2h ago    inventory only: no install
//	t1 d15 App A 2.0   1h ago    in progress: not stuck yet
//	t1 d16 App A 2.0   7h ago    pending, then a new command 2h ago that succeeded: not stuck
//	t2 d01 PA    2.0   3h10 ago  failed 1603 (t2 names no product)
func Fleet(now time.Time) []event.Event {
	var evs []event.Event
	add := func(tenant, device, target string, ago time.Duration, csp string, build func(*Timeline)) {
		tl := &Timeline{At: now.Add(-ago), Tenant: tenant, Device: device, CSP: csp, Target: target}
		build(tl)
		evs = append(evs, tl.Events...)
	}
	msi, office, h, m := event.CSPMSI, event.CSPOffice, time.Hour, time.Minute
	add("t1", "d01", TargetA, 3*h, msi, func(tl *Timeline) { tl.Install(0, "2.0").FailedMSI(100) })
	add("t1", "d02", TargetA, 3*h+30*m, msi, func(tl *Timeline) { tl.Install(0, "2.0").FailedMSI(100) })
	add("t1", "d03", TargetA, 5*h, msi, func(tl *Timeline) {
		tl.Install(0, "2.0").FailedMSI(100).Install(3*3600, "2.0").Alert(3*3600+60, "win32", 0, 0, "succeeded")
	})
	add("t1", "d04", TargetA, 2*h, msi, func(tl *Timeline) { tl.Install(0, "2.0").Alert(60, "win32", 0, 0, "succeeded") })
	add("t1", "d05", TargetA, 6*h, msi, func(tl *Timeline) { tl.Install(0, "2.0").Status(1, "DownloadInstall", 200, "succeeded") })
	add("t1", "d06", TargetA, 10*h, msi, func(tl *Timeline) { tl.Install(0, "1.0").Alert(60, "win32", 0, 0, "succeeded") })
	add("t1", "d07", TargetA, 8*h, msi, func(tl *Timeline) {
		tl.Install(0, "2.0").Result(30, "Status", "msi_status", 30, "failed").LastError(30, -2145844844, 0).
			Result(90, "Status", "msi_status", 20, "in_progress")
	})
	add("t1", "d08", TargetB, 4*h, msi, func(tl *Timeline) { tl.Install(0, "3.1").Alert(100, "win32", 1618, 0, "failed") })
	add("t1", "d09", TargetB, 30*m, msi, func(tl *Timeline) { tl.Install(0, "3.1").FailedMSI(100) })
	add("t1", "d10", TargetB, 40*m, msi, func(tl *Timeline) { tl.Install(0, "3.1").Alert(100, "win32", 1620, 0, "failed") })
	add("t1", "d11", TargetOffice, 3*h, office, func(tl *Timeline) {
		tl.Install(0, "16.0.1").Status(1, "Install", 202, "in_progress").
			Result(300, "Status", "office_status", 17002, "failed").Result(300, "FinalStatus", "office_final", 60, "failed")
	})
	add("t1", "d12", TargetA, 30*h, msi, func(tl *Timeline) { tl.Install(0, "2.0").FailedMSI(100) })
	add("t1", "d13", TargetB, 5*h+15*m, msi, func(tl *Timeline) {
		tl.Install(0, "3.1").Result(100, "Status", "msi_status", 60, "failed").LastError(100, -2046820320, 0) // 0x86000020
	})
	add("t1", "d14", TargetA, 2*h, msi, func(tl *Timeline) { tl.Inventory(0, "9.9") })
	add("t1", "d15", TargetA, 1*h, msi, func(tl *Timeline) { tl.Install(0, "2.0").Result(60, "Status", "msi_status", 20, "in_progress") })
	add("t1", "d16", TargetA, 7*h, msi, func(tl *Timeline) {
		tl.Install(0, "2.0").Status(1, "DownloadInstall", 200, "succeeded").
			Install(5*3600, "2.0").Alert(5*3600+60, "win32", 0, 0, "succeeded")
	})
	add("t2", "d01", TargetA, 3*h+10*m, msi, func(tl *Timeline) { tl.Install(0, "2.0").FailedMSI(100) })
	return evs
}

// StoreFleet stores Fleet twice, as a replica paused with its INSERT open
// and the replica its messages were redelivered to both store them (every
// reader must count each event once, schema/001), and FleetNames.
func StoreFleet(t testing.TB, s *store.Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	evs := Fleet(now)
	for range 2 {
		if err := s.InsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertAdminProducts(ctx, FleetNames, now); err != nil {
		t.Fatal(err)
	}
}

// Row joins fields as clickhousetest.Rows joins a row's: "|" between them,
// each as fmt.Sprint prints it. A test writes the rows it wants with it.
func Row(fields ...any) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = fmt.Sprint(f)
	}
	return strings.Join(parts, "|")
}
