package alerts_test

import (
	"fmt"
	"github.com/cspwatch/cspwatch/internal/alerts"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
)

// unnamedSpike is rig.spike with install alerts as devices send them (a
// ProductCode, no product) and install commands that name no version.
func (r *rig) unnamedSpike(from, to int) {
	n := len(r.events)
	r.spike(from, to)
	for i := n; i < len(r.events); i++ {
		r.events[i].Product, r.events[i].MSIJob = nil, nil
	}
}

// command adds the server's install command for target, as ingest reads it
// from the server's message.
func (r *rig) command(i int, target string, job event.MSIJob) {
	r.seq++
	r.events = append(r.events, event.Event{
		EventID: fmt.Sprintf("%032x", r.seq), SchemaVersion: 1, ReceivedAt: bucketStart(i),
		Tenant: "contoso", DeviceID: "cmd-1", SessionID: "1", MsgID: "1", Kind: event.KindCommand, Command: event.CommandExec,
		Scope: event.ScopeDevice, CSP: event.CSPMSI, TargetID: target, Node: "DownloadInstall", Outcome: event.OutcomeRequested,
		MSIJob: &job,
	})
}

// The catalog names a failing product the events do not: an
// administrator's name over the command's label; and, since neither the
// failed attempts' commands nor their events carry a version, the attempts
// install the catalog's (store.AttemptsQuery), which is then part of the
// key: the alert's id, its details query and the alerts table all have it.
// Both transitions are named.
func TestEngineNamesProductFromCatalog(t *testing.T) {
	r := newRig(t)
	r.background(0, 40)
	r.unnamedSpike(30, 32)
	r.command(5, "{BAD}", event.MSIJob{FileName: "bad-2.1.msi", ProductVersion: "2.1.5"})
	r.flush()
	err := r.st.InsertAdminProducts(r.ctx, []store.AdminProduct{{Tenant: "contoso", CSP: event.CSPMSI, TargetID: "{BAD}", Name: "Contoso Bad App"}}, bucketStart(0))
	if err != nil {
		t.Fatal(err)
	}
	e := r.started("a", engineConfig("a", r.hook.URL))
	for i := 30; i <= 38; i++ {
		r.evaluate(i, e)
	}
	r.check("after the spike and the cooldown", 1, 1)
	key := alerts.Key{Level: alerts.LevelProduct, Tenant: "contoso", CSP: event.CSPMSI, Space: codes.SpaceWin32, Code: 1603, Target: "{BAD}", Version: "2.1.5"}
	for _, a := range r.hook.delivered(t) {
		if a.ProductName != "Contoso Bad App" || a.ProductVersion != "2.1.5" || a.VersionFromCatalog {
			t.Errorf("%s: product %q %q (from catalog at claim %v), want Contoso Bad App 2.1.5 from the attempts", a.Status, a.ProductName, a.ProductVersion, a.VersionFromCatalog)
		}
		if !strings.Contains(a.Summary, "Contoso Bad App 2.1.5") {
			t.Errorf("%s summary %q lacks the product", a.Status, a.Summary)
		}
		if a.ID != alerts.AlertID(key, bucketStart(30)) {
			t.Errorf("%s id %s, want the key's %s", a.Status, a.ID, alerts.AlertID(key, bucketStart(30)))
		}
		if !strings.Contains(a.Query, "version = '2.1.5'") {
			t.Errorf("details query lacks the version:\n%s", a.Query)
		}
	}
	list, err := alerts.List(r.ctx, r.st, alerts.ListOptions{Since: bucketStart(0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Status != alerts.Resolved || list[0].Key() != key || list[0].VersionFromCatalog || list[0].ProductName != "Contoso Bad App" {
		t.Fatalf("alerts table: %+v, want the resolved alert of %+v", list, key)
	}
}

// A spike on a product nothing names shows its target id, marked unknown.
func TestEngineUnknownProduct(t *testing.T) {
	r := newRig(t)
	r.background(0, 40)
	r.unnamedSpike(30, 32)
	r.flush()
	e := r.started("a", engineConfig("a", r.hook.URL))
	r.evaluate(30, e)
	r.check("the spike's first bucket", 1, 0)
	a := r.hook.delivered(t)[0]
	if a.ProductName != "" || a.ProductVersion != "" || a.VersionFromCatalog {
		t.Errorf("product %q %q (from catalog %v), want none", a.ProductName, a.ProductVersion, a.VersionFromCatalog)
	}
	if !strings.Contains(a.Summary, "{BAD} (unknown product)") {
		t.Errorf("summary %q does not mark the product unknown", a.Summary)
	}
	// Once a device names it (here after the spike: a version it reports
	// becomes the version of attempts that have none, and so would change
	// their key), the next alert of the target says so.
	r.evaluate(31, e)
	r.evaluate(32, e)
	if got, err := (alerts.ClickHouseSource{Store: r.st}).ProductName(r.ctx, "contoso", event.CSPMSI, "{BAD}"); err != nil || got != "" {
		t.Fatalf("ProductName = %q, %v before any inventory", got, err)
	}
	r.seq++
	r.events = append(r.events, event.Event{
		EventID: fmt.Sprintf("%032x", r.seq), SchemaVersion: 1, ReceivedAt: bucketStart(33), Tenant: "contoso", DeviceID: "other",
		SessionID: "1", MsgID: "1", Kind: event.KindInventory, Scope: event.ScopeDevice, CSP: event.CSPMSI, TargetID: "{BAD}",
		Node: "Name", Outcome: "unknown", Product: &event.Product{Name: "Bad App", Version: "2.0"},
	})
	r.flush()
	if got, err := (alerts.ClickHouseSource{Store: r.st}).ProductName(r.ctx, "contoso", event.CSPMSI, "{BAD}"); err != nil || got != "Bad App" {
		t.Fatalf("ProductName = %q, %v after another device's inventory", got, err)
	}
	// The resolve is named as its firing was, not as the catalog names the
	// product by then: both transitions of a spike carry the same names, so
	// a receiver matching them (Alertmanager, by labels) sees one alert.
	for i := 33; i <= 38; i++ {
		r.evaluate(i, e)
	}
	r.check("after the cooldown", 1, 1)
	res := r.hook.delivered(t)[1]
	if res.ID != a.ID || res.ProductName != "" || res.ProductVersion != "" || res.VersionFromCatalog || !strings.Contains(res.Summary, "{BAD} (unknown product)") {
		t.Errorf("resolve %s: product %q %q, summary %q; want %s named as its firing", res.ID, res.ProductName, res.ProductVersion, res.Summary, a.ID)
	}
}
