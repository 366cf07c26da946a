// Package attempttest builds the events of install attempts as a device and
// the MDM server report them, for the tests of the attempts query and of
// everything that reads it (internal/store, the Grafana panels): a
// Timeline of one device and one target, and Fleet, a fleet of seventeen
// attempts whose counts the tests know by hand.
package attempttest

import (
	"fmt"
	"time"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
)

// Timeline writes the events of one device and one MSI or Office target,
// each a number of seconds after At. Every builder returns the timeline, so
// that a test reads as the conversation it stores.
type Timeline struct {
	At             time.Time
	Tenant, Device string
	CSP, Target    string
	Events         []event.Event
}

// Targets New gives a timeline of each CSP.
const (
	MSITarget    = "PRODUCT-A"
	OfficeTarget = "90160000-008C-0000-1000-0000000FF1CE"
)

// New returns an empty timeline of device d1 of tenant t1 for MSITarget, or
// OfficeTarget when csp is the Office CSP, starting 2026-11-23 05:00 UTC.
func New(csp string) *Timeline {
	target := MSITarget
	if csp == event.CSPOffice {
		target = OfficeTarget
	}
	return &Timeline{At: time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC), Tenant: "t1", Device: "d1", CSP: csp, Target: target}
}

// Add appends e at sec seconds after At, filled in as ingest stores it: an
// event id unique in the fleet (tenant, device, target and the event's
// number), tenant, device, scope and a CmdID; a message 3 of a session of
// its own unless e names them; the timeline's target unless e names a CSP
// or answers a command by reference (attribution finds its target); the
// name and category of its code, as normalize classifies it.
func (tl *Timeline) Add(sec int, e event.Event) *Timeline {
	n := len(tl.Events)
	e.EventID = fmt.Sprintf("%s-%s-%s-e%03d", tl.Tenant, tl.Device, tl.Target, n)
	e.SchemaVersion, e.Tenant, e.DeviceID, e.Scope = 1, tl.Tenant, tl.Device, event.ScopeDevice
	e.ReceivedAt = tl.At.Add(time.Duration(sec) * time.Second)
	e.CmdID = int64(n%1000 + 1)
	if e.MsgID == "" {
		e.MsgID = "3"
	}
	if e.SessionID == "" {
		e.SessionID = fmt.Sprint(sec)
	}
	if e.CSP == "" && e.CmdRefRaw == "" {
		e.CSP, e.TargetID = tl.CSP, tl.Target
	}
	if e.CodeSpace != "" {
		info := codes.Classify(codes.Space(e.CodeSpace), e.Code)
		e.CodeName, e.Category = info.Name, string(info.Category)
	}
	tl.Events = append(tl.Events, e)
	return tl
}

// Install is the server's install command: the MSI node's DownloadInstall
// Exec with an MsiInstallJob of version, or the Office install Exec.
func (tl *Timeline) Install(sec int, version string) *Timeline {
	e := event.Event{Kind: event.KindCommand, Command: event.CommandExec, Outcome: event.OutcomeRequested,
		CmdIDRaw: fmt.Sprint(sec)}
	if tl.CSP == event.CSPOffice {
		e.Node, e.OfficeConfig = "Install", &event.OfficeConfig{Version: version}
	} else {
		e.Node, e.MSIJob = "DownloadInstall", &event.MSIJob{ProductVersion: version}
	}
	return tl.Add(sec, e)
}

// Get is the server's Get of the target's Status: not an attempt.
func (tl *Timeline) Get(sec int) *Timeline {
	return tl.Add(sec, event.Event{Kind: event.KindCommand, Command: event.CommandGet, Node: "Status",
		Outcome: event.OutcomeRequested, CmdIDRaw: fmt.Sprint(sec)})
}

// Status is the device's OMA-DM status of a command on node.
func (tl *Timeline) Status(sec int, node string, code int64, outcome string) *Timeline {
	return tl.Add(sec, event.Event{Kind: event.KindStatus, Node: node, Code: code, CodeSpace: "omadm", Outcome: outcome})
}

// NotFound is a 404 with no TargetRef answering the Get sent at getSec: its
// target is known only by attribution.
func (tl *Timeline) NotFound(sec, getSec int) *Timeline {
	return tl.Add(sec, event.Event{Kind: event.KindStatus, Code: 404, CodeSpace: "omadm", Outcome: "failed",
		SessionID: fmt.Sprint(getSec), MsgID: "4", MsgRef: "3", CmdRefRaw: fmt.Sprint(getSec)})
}

// Result is a node's value the device reports, with the code space it is
// read in.
func (tl *Timeline) Result(sec int, node, space string, code int64, outcome string) *Timeline {
	return tl.Add(sec, event.Event{Kind: event.KindResult, Node: node, Code: code, CodeSpace: space, Outcome: outcome})
}

// LastError is the MSI node's LastError: an HRESULT, with its Win32 code
// when it is a FACILITY_WIN32 one (as normalize sets win32_code).
func (tl *Timeline) LastError(sec int, hresult, win32 int64) *Timeline {
	return tl.Add(sec, event.Event{Kind: event.KindResult, Node: "LastError", Code: hresult, CodeSpace: "hresult",
		Win32Code: win32, Outcome: "failed"})
}

// Alert is the install alert of the DownloadInstall node.
func (tl *Timeline) Alert(sec int, space string, code, win32 int64, outcome string) *Timeline {
	return tl.Add(sec, event.Event{Kind: event.KindAlert, Node: "DownloadInstall", Code: code, CodeSpace: space,
		Win32Code: win32, Outcome: outcome})
}

// Inventory is what the device's Results say of the installed product.
func (tl *Timeline) Inventory(sec int, version string) *Timeline {
	return tl.Add(sec, event.Event{Kind: event.KindInventory, Outcome: "unknown",
		Product: &event.Product{Name: "Orca", Version: version}})
}

// FailedMSI is one failed MSI install as a device reports it, three events:
// the install alert (1603), MSI Status 60 and LastError 0x80070643.
func (tl *Timeline) FailedMSI(sec int) *Timeline {
	return tl.Alert(sec, "win32", 1603, 0, "failed").
		Result(sec, "Status", "msi_status", 60, "failed").
		LastError(sec, -2147023293, 1603)
}

// FailedMSI1618 is a failed MSI install as a device reports it when another
// install is running: the install alert 1618, Status 60, LastError
// 0x80070652.
func (tl *Timeline) FailedMSI1618(sec int) *Timeline {
	return tl.Alert(sec, "win32", 1618, 0, "failed").
		Result(sec, "Status", "msi_status", 60, "failed").
		LastError(sec, -2147023278, 1618)
}

// SucceededMSI is a successful MSI install: the alert 0 and Status 70.
func (tl *Timeline) SucceededMSI(sec int) *Timeline {
	return tl.Alert(sec, "win32", 0, 0, "succeeded").Result(sec, "Status", "msi_status", 70, "succeeded")
}
