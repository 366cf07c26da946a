package store_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/attempttest"
)

// One failed MSI install is one requested attempt in the bucket of its
// command and one failed attempt in the bucket it failed in, at both
// groupings; a bucket that is not whole seconds is refused.
func TestAttemptCounts(t *testing.T) {
	s := open(t)
	tl := attempttest.New(event.CSPMSI).Install(0, "2.0.1").FailedMSI(100)
	if err := s.InsertEvents(t.Context(), tl.Events); err != nil {
		t.Fatal(err)
	}
	o := store.AttemptCountsOptions{ByProduct: true, From: tl.At, To: tl.At.Add(time.Hour), Bucket: time.Minute, Lookback: time.Hour}
	got, err := s.AttemptCounts(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	// The requested attempt is grouped by the cause it ends with, as every
	// group is.
	requested := store.AttemptCount{Bucket: tl.At, Kind: store.CountRequested, Tenant: tl.Tenant, CSP: tl.CSP, Target: tl.Target, Version: "2.0.1",
		CauseSpace: "win32", CauseCode: 1603, Attempts: 1, Devices: 1, Samples: []string{}}
	failed := store.AttemptCount{Bucket: tl.At.Add(time.Minute), Kind: store.CountFailed, Tenant: tl.Tenant, CSP: tl.CSP, Target: tl.Target, Version: "2.0.1",
		CauseSpace: "win32", CauseCode: 1603, Attempts: 1, Devices: 1, Samples: []string{tl.Device}}
	if len(got) != 2 {
		t.Fatalf("counts %+v, want a requested and a failed attempt", got)
	}
	for i, want := range []store.AttemptCount{requested, failed} {
		g := got[i]
		g.Product = "" // the catalog's business, tested there
		if !reflect.DeepEqual(g, want) {
			t.Errorf("count %d:\n got  %+v\n want %+v", i, g, want)
		}
	}

	o.ByProduct = false
	got, err = s.AttemptCounts(t.Context(), o)
	if err != nil || len(got) != 2 || got[1].Target != "" || got[1].CauseCode != 1603 || got[1].Kind != store.CountFailed {
		t.Fatalf("code-level counts %+v (err %v)", got, err)
	}

	o.Bucket = 1500 * time.Millisecond
	if _, err := s.AttemptCounts(t.Context(), o); err == nil {
		t.Error("a 1.5s bucket was accepted")
	}
}

// A row reads back as written; a transition written twice is one row; the
// tenant filter and Since apply.
func TestAlertRowsRoundTrip(t *testing.T) {
	s := open(t)
	at := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	firing := store.AlertRow{
		AlertID: "k-1", Status: "firing", Level: "product", At: at, Tenant: "contoso", CSP: event.CSPMSI, TargetID: "{BAD}",
		ProductName: "Contoso VPN", ProductVersion: "2.1", CodeSpace: "win32", Code: 1603, CodeHex: "0x80070643",
		CodeName: "ERROR_INSTALL_FAILURE", CodeDescription: "Fatal error.", Category: "installer",
		Failures: 40, Devices: 25, Peak: 41, Baseline: 2.5, Factor: 3, SampleDevices: []string{"a", "b"},
		FirstSeen: at, ResolvedAt: time.Unix(0, 0).UTC(), BucketSeconds: 60, Summary: "spike", Query: "SELECT 1",
		Severity: "critical", Advice: "read the log", CodeSource: "catalog", Attempts: 40, Finished: 50,
		FailedShare: 0.8, DeviceBaseline: 1.5,
	}
	resolved := firing
	resolved.Status, resolved.At, resolved.ResolvedAt = "resolved", at.Add(5*time.Minute), at.Add(5*time.Minute)
	other := firing
	other.AlertID, other.Tenant = "k-2", "fabrikam"
	for _, r := range []store.AlertRow{firing, firing, resolved, other} {
		if err := s.InsertAlert(t.Context(), "", r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.AlertRows(t.Context(), store.AlertRowsOptions{Since: at, Tenant: "contoso"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d rows, want the firing and the resolve once each: %+v", len(got), got)
	}
	for i, want := range []store.AlertRow{firing, resolved} {
		g := got[i]
		g.At, g.FirstSeen, g.ResolvedAt = g.At.UTC(), g.FirstSeen.UTC(), g.ResolvedAt.UTC()
		if !reflect.DeepEqual(g, want) {
			t.Errorf("row %d:\n got  %+v\n want %+v", i, g, want)
		}
	}
	if got, err := s.AlertRows(t.Context(), store.AlertRowsOptions{Since: at.Add(time.Minute)}); err != nil || len(got) != 1 || got[0].Status != "resolved" {
		t.Errorf("rows since the firing: %+v (err %v), want the resolve only", got, err)
	}
	if got, err := s.AlertRows(t.Context(), store.AlertRowsOptions{Since: at.Add(time.Hour), IncludeOpen: true}); err != nil || len(got) != 1 || got[0].AlertID != "k-2" {
		t.Errorf("open rows: %+v (err %v), want fabrikam's firing", got, err)
	}
}
