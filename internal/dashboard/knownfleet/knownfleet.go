// Package knownfleet is a small fleet of install attempts whose figures
// are known by heart, for the tests of the dashboard and of the HTML
// report: what a person should see on each page.
//
// Tenant "contoso" (all hours before now):
//   - Contoso VPN 2.0.0 (MSI, target VPN): d01-d05 commanded at 20h,
//     succeeded at 19.9h;
//   - Contoso VPN 2.0.1, the failing version: d06-d13 commanded at 6h;
//     d06-d11 (6 devices) fail with 1603 at 5.9h, d12 succeeds, d13 stays
//     in progress (Status 40: a stuck attempt);
//   - Notepad Plus 8.6 (MSI, target NPP): d01-d04 succeed at 3h, d05
//     fails with 1618 at 2h;
//   - Microsoft 365 Apps (Office, target O365, no command): d01-d03 in
//     progress at 1h.
//
// Tenant "fabrikam": Contoso VPN 2.0.1 on f01 fails with 1603 at 4h.
//
// Alerts (the alerts table): one firing on contoso's Contoso VPN 2.0.1
// (1603, 6 devices) since 6h, one resolved on Notepad Plus 8.6 (1618).
package knownfleet

import (
	"context"
	"fmt"
	"time"

	"github.com/cspwatch/cspwatch/internal/alerts"
	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
)

// Names of the fleet.
const (
	Tenant       = "contoso"
	OtherTenant  = "fabrikam"
	VPN          = "Contoso VPN"
	VPNTarget    = "VPN"
	FailingVer   = "2.0.1"
	GoodVer      = "2.0.0"
	Notepad      = "Notepad Plus"
	Office       = "Microsoft 365 Apps"
	FailingCount = 6 // contoso's devices failing on VPN 2.0.1
	FailedDevice = "d06"
)

// Events returns the fleet's events, dated from now.
func Events(now time.Time) []event.Event {
	var evs []event.Event
	n := 0
	h := func(d float64) time.Time {
		return now.Add(-time.Duration(d * float64(time.Hour))).UTC().Truncate(time.Second)
	}
	add := func(tenant, device, csp, target string, at time.Time, f func(*event.Event)) {
		n++
		e := event.Event{
			EventID: fmt.Sprintf("%032x", n), SchemaVersion: 1, ReceivedAt: at, Tenant: tenant, DeviceID: device,
			SessionID: "s", MsgID: "1", CmdID: int64(n%9 + 1), Scope: event.ScopeDevice, CSP: csp, TargetID: target,
			Node: "DownloadInstall",
		}
		f(&e)
		evs = append(evs, e)
	}
	command := func(tenant, device, target, version string, at time.Time) {
		add(tenant, device, event.CSPMSI, target, at, func(e *event.Event) {
			e.Kind, e.Command, e.Outcome = event.KindCommand, event.CommandExec, event.OutcomeRequested
			e.MSIJob = &event.MSIJob{ProductVersion: version}
		})
	}
	alert := func(tenant, device, target string, code int64, at time.Time) {
		add(tenant, device, event.CSPMSI, target, at, func(e *event.Event) {
			e.Kind, e.Code, e.CodeSpace, e.Outcome = event.KindAlert, code, "win32", "succeeded"
			if code != 0 {
				e.Outcome = "failed"
			}
		})
	}
	dev := func(i int) string { return fmt.Sprintf("d%02d", i) }
	for i := 1; i <= 5; i++ {
		command(Tenant, dev(i), VPNTarget, GoodVer, h(20))
		alert(Tenant, dev(i), VPNTarget, 0, h(19.9))
	}
	for i := 6; i <= 13; i++ {
		command(Tenant, dev(i), VPNTarget, FailingVer, h(6))
		switch {
		case i <= 11:
			alert(Tenant, dev(i), VPNTarget, 1603, h(5.9))
		case i == 12:
			alert(Tenant, dev(i), VPNTarget, 0, h(5.9))
		default:
			add(Tenant, dev(i), event.CSPMSI, VPNTarget, h(5.8), func(e *event.Event) {
				e.Kind, e.Node, e.Code, e.CodeSpace, e.Outcome = event.KindResult, "Status", 40, "msi_status", "in_progress"
			})
		}
	}
	for i := 1; i <= 5; i++ {
		command(Tenant, dev(i), "NPP", "8.6", h(3.1))
		if i <= 4 {
			alert(Tenant, dev(i), "NPP", 0, h(3))
		} else {
			alert(Tenant, dev(i), "NPP", 1618, h(2))
		}
	}
	for i := 1; i <= 3; i++ {
		add(Tenant, dev(i), event.CSPOffice, "O365", h(1), func(e *event.Event) {
			e.Kind, e.Node, e.Code, e.CodeSpace, e.Outcome = event.KindResult, "Status", 997, "office_status", "in_progress"
		})
	}
	command(OtherTenant, "f01", VPNTarget, FailingVer, h(4.1))
	alert(OtherTenant, "f01", VPNTarget, 1603, h(4))
	return evs
}

// Products are the catalog's names of the fleet's targets.
func Products() []store.AdminProduct {
	return []store.AdminProduct{
		{Tenant: Tenant, CSP: event.CSPMSI, TargetID: VPNTarget, Name: VPN, Publisher: "Contoso"},
		{Tenant: OtherTenant, CSP: event.CSPMSI, TargetID: VPNTarget, Name: VPN, Publisher: "Contoso"},
		{Tenant: Tenant, CSP: event.CSPMSI, TargetID: "NPP", Name: Notepad, Publisher: "Notepad"},
		{Tenant: Tenant, CSP: event.CSPOffice, TargetID: "O365", Name: Office, Publisher: "Microsoft"},
	}
}

// Alert IDs of the fleet's alerts.
const (
	OpenAlertID     = "knownfleet-vpn-1603"
	ResolvedAlertID = "knownfleet-npp-1618"
)

// Alerts are the fleet's spike alerts, dated from now: the transitions
// the detector would have written (the resolved one twice: fired, then
// resolved).
func Alerts(now time.Time) []alerts.Alert {
	at := func(d time.Duration) time.Time { return now.Add(-d).UTC().Truncate(time.Minute) }
	open := alerts.Alert{ID: OpenAlertID, Status: alerts.Firing, Level: alerts.LevelProduct, Tenant: Tenant, CSP: event.CSPMSI,
		TargetID: VPNTarget, ProductName: VPN, ProductVersion: FailingVer, Severity: alerts.Critical,
		CodeSpace: codes.SpaceWin32, Code: 1603, CodeHex: "0x80070643", CodeName: "ERROR_INSTALL_FAILURE", Category: "installer",
		Advice: "Collect the verbose msiexec log.", Attempts: FailingCount, Failures: FailingCount, Devices: FailingCount,
		Peak: FailingCount, Baseline: 0.2, Factor: 3, SampleDevices: []string{"d06", "d07"}, FirstSeen: at(6 * time.Hour),
		BucketSeconds: 300, Summary: "Contoso VPN 2.0.1: 6 devices failed with 1603"}
	fired := alerts.Alert{ID: ResolvedAlertID, Status: alerts.Firing, Level: alerts.LevelProduct, Tenant: Tenant, CSP: event.CSPMSI,
		TargetID: "NPP", ProductName: Notepad, ProductVersion: "8.6", Severity: alerts.Warning,
		CodeSpace: codes.SpaceWin32, Code: 1618, CodeHex: "0x80070652", CodeName: "ERROR_INSTALL_ALREADY_RUNNING", Category: "conflict",
		Attempts: 1, Failures: 1, Devices: 1, Peak: 1, Factor: 3, SampleDevices: []string{"d05"}, FirstSeen: at(2 * time.Hour),
		BucketSeconds: 300, Summary: "Notepad Plus 8.6: 1 device failed with 1618"}
	resolved := fired
	resolved.Status, resolved.ResolvedAt = alerts.Resolved, at(time.Hour)
	return []alerts.Alert{open, fired, resolved}
}

// Load stores the fleet, dated from now, its product names and its
// alerts in st.
func Load(ctx context.Context, st *store.Store, now time.Time) error {
	if err := st.InsertEvents(ctx, Events(now)); err != nil {
		return fmt.Errorf("known fleet: %w", err)
	}
	if err := st.InsertAdminProducts(ctx, Products(), now); err != nil {
		return fmt.Errorf("known fleet: %w", err)
	}
	sink := alerts.ClickHouseSink{Store: st}
	for _, a := range Alerts(now) {
		if err := sink.Deliver(ctx, a); err != nil {
			return fmt.Errorf("known fleet: %w", err)
		}
	}
	return nil
}
