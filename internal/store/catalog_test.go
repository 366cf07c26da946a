package store_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
)

// catalogFleet builds the events of the catalog tests: n numbers them.
type catalogFleet struct {
	n   int
	evs []event.Event
}

func (f *catalogFleet) add(e event.Event) {
	f.n++
	e.EventID = fmt.Sprintf("cat%029d", f.n)
	e.SchemaVersion = 1
	if e.Tenant == "" {
		e.Tenant = "t1"
	}
	// One session per event: events of one session are ordered by message,
	// not time (store.AttemptsQuery).
	e.SessionID, e.MsgID, e.CmdID, e.Scope = fmt.Sprint(f.n), "1", int64(f.n%10), event.ScopeDevice
	f.evs = append(f.evs, e)
}

// inventory is what a device's Results say of a target.
func (f *catalogFleet) inventory(device, csp, target string, at time.Time, p event.Product) {
	f.add(event.Event{DeviceID: device, Kind: event.KindInventory, CSP: csp, TargetID: target, Node: "Name",
		Outcome: "unknown", ReceivedAt: at, Product: &p})
}

// result is a Status result; p may be nil.
func (f *catalogFleet) result(device, csp, target, outcome string, code int64, at time.Time, p *event.Product) {
	f.add(event.Event{DeviceID: device, Kind: event.KindResult, CSP: csp, TargetID: target, Node: "Status",
		Code: code, CodeSpace: "msi_status", Outcome: outcome, ReceivedAt: at, Product: p})
}

// failure is an install alert: a code and a ProductCode, no product.
func (f *catalogFleet) failure(tenant, device, target string, code int64, at time.Time) {
	f.add(event.Event{Tenant: tenant, DeviceID: device, Kind: event.KindAlert, CSP: event.CSPMSI, TargetID: target,
		Node: "DownloadInstall", Code: code, CodeSpace: "win32", Outcome: "failed", ReceivedAt: at})
}

func (f *catalogFleet) msiCommand(device, target string, at time.Time, job event.MSIJob) {
	f.add(event.Event{DeviceID: device, Kind: event.KindCommand, Command: event.CommandExec, CSP: event.CSPMSI, TargetID: target,
		Node: "DownloadInstall", Outcome: event.OutcomeRequested, ReceivedAt: at, MSIJob: &job})
}

func (f *catalogFleet) officeCommand(device, target string, at time.Time, cfg event.OfficeConfig) {
	f.add(event.Event{DeviceID: device, Kind: event.KindCommand, Command: event.CommandExec, CSP: event.CSPOffice, TargetID: target,
		Node: "install", Outcome: event.OutcomeRequested, ReceivedAt: at, OfficeConfig: &cfg})
}

func catalogOf(t *testing.T, s *store.Store, tenant string) map[store.ProductKey]store.Product {
	t.Helper()
	ps, err := s.Catalog(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	m := map[store.ProductKey]store.Product{}
	for _, p := range ps {
		if _, dup := m[p.ProductKey]; dup {
			t.Errorf("catalog lists %+v twice", p.ProductKey)
		}
		m[p.ProductKey] = p
	}
	return m
}

// Per field, the highest-priority source that has a value names the
// product: an administrator's name, then the newest name any device
// reported, then the install command's label.
func TestCatalogPrecedence(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	h := func(d float64) time.Time { return now.Add(-time.Duration(d * float64(time.Hour))) }
	const (
		vpn     = "6F7CB29F-9A3B-4C1E-8D2A-0E5B7C9D1F34" // admin name, inventory version, command label
		agent   = "1D2C3B4A-0000-4000-8000-00000000000A" // inventory twice: the newest wins
		tool    = "1D2C3B4A-0000-4000-8000-00000000000B" // command only: the MSI file name
		o365    = "A1B2C3D4-0000-4000-8000-000000000001" // Office command with an O365 product
		visio   = "A1B2C3D4-0000-4000-8000-000000000002" // Office command without one
		adminV  = "1D2C3B4A-0000-4000-8000-00000000000C" // admin gives a version and publisher too
		nowhere = "1D2C3B4A-0000-4000-8000-0000000000FF" // only a failure: nothing names it
	)
	var f catalogFleet
	f.msiCommand("d1", vpn, h(10), event.MSIJob{ProductVersion: "2.1.0.7", FileName: "ContosoVPN-2.1.msi", ContentURLs: []string{"https://cdn/ContosoVPN-2.1.msi"}})
	f.inventory("d2", event.CSPMSI, vpn, h(9), event.Product{Name: "Contoso VPN", Version: "2.1", Publisher: "Contoso Ltd"})
	f.failure("t1", "d3", vpn, 1603, h(8))

	f.inventory("d1", event.CSPMSI, agent, h(5), event.Product{Name: "Agent (new)", Version: "3.0"})
	f.inventory("d2", event.CSPMSI, agent, h(7), event.Product{Name: "Agent (old)", Version: "2.0", Publisher: "Old Corp"})

	f.msiCommand("d1", tool, h(6), event.MSIJob{ProductVersion: "1.4", FileName: "tool.msi"})
	f.msiCommand("d2", tool, h(7), event.MSIJob{ProductVersion: "1.3", FileName: "tool-old.msi"})

	f.officeCommand("d1", o365, h(4), event.OfficeConfig{ProductIDs: []string{"VisioProRetail", "O365ProPlusRetail"}, Channel: "MonthlyEnterprise", Version: "16.0.17328.20162"})
	f.officeCommand("d1", visio, h(4), event.OfficeConfig{ProductIDs: []string{"VisioProRetail", "ProjectProRetail"}, Channel: "Current"})

	f.inventory("d4", event.CSPMSI, adminV, h(3), event.Product{Name: "Reported", Version: "9.9", Publisher: "Reporter"})

	f.failure("t1", "d5", nowhere, 1603, h(2))
	// Another tenant's names stay there.
	f.inventory("x1", event.CSPMSI, vpn, h(1), event.Product{Name: "Someone else's VPN", Version: "7"})
	f.evs[len(f.evs)-1].Tenant = "t2"

	if err := s.InsertEvents(ctx, f.evs); err != nil {
		t.Fatal(err)
	}
	err := s.InsertAdminProducts(ctx, []store.AdminProduct{
		{Tenant: "t1", CSP: event.CSPMSI, TargetID: vpn, Name: "Contoso VPN Client"},
		{Tenant: "t1", CSP: event.CSPMSI, TargetID: adminV, Name: "Admin Name", Version: "10.0", Publisher: "Admin Corp"},
	}, now)
	if err != nil {
		t.Fatal(err)
	}

	key := func(csp, target string) store.ProductKey {
		return store.ProductKey{Tenant: "t1", CSP: csp, TargetID: target}
	}
	want := map[store.ProductKey]store.Product{
		key(event.CSPMSI, vpn):   {ProductKey: key(event.CSPMSI, vpn), Name: "Contoso VPN Client", Version: "2.1", Publisher: "Contoso Ltd", Known: true},
		key(event.CSPMSI, agent): {ProductKey: key(event.CSPMSI, agent), Name: "Agent (new)", Version: "3.0", Known: true},
		key(event.CSPMSI, tool):  {ProductKey: key(event.CSPMSI, tool), Name: "tool.msi", Version: "1.4", Known: true},
		key(event.CSPOffice, o365): {ProductKey: key(event.CSPOffice, o365), Name: "Microsoft 365 Apps", Version: "16.0.17328.20162",
			OfficeProducts: "VisioProRetail,O365ProPlusRetail", OfficeChannel: "MonthlyEnterprise", Known: true},
		key(event.CSPOffice, visio): {ProductKey: key(event.CSPOffice, visio), Name: "VisioProRetail",
			OfficeProducts: "VisioProRetail,ProjectProRetail", OfficeChannel: "Current", Known: true},
		key(event.CSPMSI, adminV): {ProductKey: key(event.CSPMSI, adminV), Name: "Admin Name", Version: "10.0", Publisher: "Admin Corp", Known: true},
	}
	got := catalogOf(t, s, "t1")
	for k, w := range want {
		if g := got[k]; !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n got %+v\nwant %+v", k.TargetID, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("catalog of t1 has %d products, want %d: %+v", len(got), len(want), got)
	}
	if p := catalogOf(t, s, "t2")[store.ProductKey{Tenant: "t2", CSP: event.CSPMSI, TargetID: vpn}]; p.Name != "Someone else's VPN" {
		t.Errorf("t2's VPN is %+v", p)
	}

	// Products looks keys up, the unknown one included.
	keys := []store.ProductKey{key(event.CSPMSI, vpn), key(event.CSPMSI, nowhere), key(event.CSPOffice, vpn)}
	ps, err := s.Products(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if p := ps[keys[0]]; p.Label() != "Contoso VPN Client" || p.Version != "2.1" {
		t.Errorf("Products(vpn) = %+v", p)
	}
	for _, k := range keys[1:] {
		if p := ps[k]; p.Known || p.Label() != k.TargetID+" (unknown product)" || p.ProductKey != k {
			t.Errorf("Products(%v) = %+v label %q, want unknown", k, p, p.Label())
		}
	}
	if ps, err := s.Products(ctx, nil); err != nil || len(ps) != 0 {
		t.Errorf("Products(nil) = %v, %v", ps, err)
	}
	// Many keys, asked for in several queries.
	many := []store.ProductKey{}
	for i := range 1200 {
		many = append(many, key(event.CSPMSI, fmt.Sprintf("MANY-%d", i)))
	}
	many = append(many, key(event.CSPMSI, agent), key(event.CSPMSI, agent))
	if ps, err := s.Products(ctx, many); err != nil || len(ps) != 1201 || ps[key(event.CSPMSI, agent)].Name != "Agent (new)" || ps[many[700]].Known {
		t.Errorf("Products of 1,202 keys: %d products, agent %+v, err %v", len(ps), ps[key(event.CSPMSI, agent)], err)
	}

	// An administrator's later load replaces the earlier one, and only it.
	if err := s.InsertAdminProducts(ctx, []store.AdminProduct{{Tenant: "t1", CSP: event.CSPMSI, TargetID: vpn, Name: "VPN (renamed)", Version: "2.1.1"}}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if p := catalogOf(t, s, "t1")[key(event.CSPMSI, vpn)]; p.Name != "VPN (renamed)" || p.Version != "2.1.1" || p.Publisher != "Contoso Ltd" {
		t.Errorf("after a second load: %+v", p)
	}
}

// A catalog row written twice (a batch stored again, so pushed through the
// views again, in other blocks; a file loaded twice) changes nothing a
// reader sees, before and after the merges.
func TestCatalogRowWrittenTwice(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	var f catalogFleet
	for i := range 40 {
		at := now.Add(-time.Duration(40-i) * time.Minute)
		target := fmt.Sprintf("T%d", i%4)
		f.inventory(fmt.Sprintf("d%02d", i), event.CSPMSI, target, at, event.Product{Name: fmt.Sprintf("App %d", i%4), Version: fmt.Sprintf("1.%d", i)})
		f.msiCommand(fmt.Sprintf("d%02d", i), target, at, event.MSIJob{FileName: fmt.Sprintf("app%d.msi", i), ProductVersion: fmt.Sprintf("1.%d", i)})
		f.failure("t1", fmt.Sprintf("d%02d", i), fmt.Sprintf("U%d", i%3), 1603, at)
	}
	admin := []store.AdminProduct{{Tenant: "t1", CSP: event.CSPMSI, TargetID: "T0", Name: "Admin zero"}}
	if err := s.InsertEvents(ctx, f.evs); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertAdminProducts(ctx, admin, now); err != nil {
		t.Fatal(err)
	}
	before := catalogOf(t, s, "")
	if p := before[store.ProductKey{Tenant: "t1", CSP: event.CSPMSI, TargetID: "T1"}]; p.Name != "App 1" || p.Version != "1.37" {
		t.Fatalf("T1 = %+v, want the newest inventory, App 1 1.37", p)
	}
	rowsBefore := count(t, s, "SELECT count() FROM product_catalog FINAL")

	// Again, in reverse order and in small batches; the file too.
	for i := len(f.evs); i > 0; i -= 7 {
		batch := append([]event.Event(nil), f.evs[max(0, i-7):i]...)
		for l, r := 0, len(batch)-1; l < r; l, r = l+1, r-1 {
			batch[l], batch[r] = batch[r], batch[l]
		}
		if err := s.InsertEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertAdminProducts(ctx, admin, now); err != nil {
		t.Fatal(err)
	}
	if after := catalogOf(t, s, ""); !reflect.DeepEqual(after, before) {
		t.Fatalf("catalog changed:\n%+v\nvs\n%+v", after, before)
	}
	if n := count(t, s, "SELECT count() FROM product_catalog FINAL"); n != rowsBefore || n != 4*2+1 {
		t.Errorf("%d rows with FINAL (%d before), want one per target and source: 9", n, rowsBefore)
	}
	if err := s.Conn().Exec(ctx, "OPTIMIZE TABLE product_catalog FINAL"); err != nil {
		t.Fatal(err)
	}
	if after := catalogOf(t, s, ""); !reflect.DeepEqual(after, before) {
		t.Fatalf("catalog changed by a merge:\n%+v\nvs\n%+v", after, before)
	}
}

// Targets of namingFleet.
const (
	nfChrome  = "8A69D345-D564-463C-AFF1-A69D9E530F96"
	nfVPN     = "6F7CB29F-9A3B-4C1E-8D2A-0E5B7C9D1F34"
	nfTool    = "1D2C3B4A-0000-4000-8000-00000000000B"
	nfUnknown = "DEADBEEF-0000-4000-8000-000000000000"
)

// namingFleet stores a fleet whose failing devices name no product, twice,
// and an administrator's name for the VPN.
func namingFleet(t *testing.T, s *store.Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	h := func(d float64) time.Time { return now.Add(-time.Duration(d * float64(time.Hour))) }
	var f catalogFleet
	// d1 installed Chrome and reported its name; d2 only failed.
	f.result("d1", event.CSPMSI, nfChrome, "succeeded", 70, h(5), &event.Product{Name: "Google Chrome", Version: "126.0"})
	f.failure("t1", "d2", nfChrome, 1603, h(4))
	// The VPN: named by the administrator, failing on d3 and d4.
	f.failure("t1", "d3", nfVPN, 1603, h(4))
	f.failure("t1", "d4", nfVPN, 1603, h(3))
	// The tool: only its install command names it.
	f.msiCommand("d5", nfTool, h(6), event.MSIJob{FileName: "tool.msi", ProductVersion: "1.4"})
	f.failure("t1", "d5", nfTool, 1618, h(5))
	// Nothing names this one.
	f.failure("t1", "d6", nfUnknown, 1603, h(2))
	for range 2 {
		if err := s.InsertEvents(ctx, f.evs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertAdminProducts(ctx, []store.AdminProduct{{Tenant: "t1", CSP: event.CSPMSI, TargetID: nfVPN, Name: "Contoso VPN"}}, now); err != nil {
		t.Fatal(err)
	}
}

// The report names a failing device's product from the catalog: the name
// another device reported after its success, an administrator's name, the
// install command's label when that is all there is; a target nothing
// names shows as its id, marked unknown, and only then.
func TestFleetReportNamesFromCatalog(t *testing.T) {
	s := open(t)
	now := time.Now().UTC().Truncate(time.Second)
	namingFleet(t, s, now)
	rep, err := s.FleetReport(context.Background(), store.ReportOptions{Now: now, Since: 24 * time.Hour, Tenant: "t1", StuckAfter: 4 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	msi := event.CSPMSI
	// Most failed devices first; one attempt per device (no command but
	// the tool's).
	wantProducts := []store.ProductInstalls{
		{Tenant: "t1", CSP: msi, Product: "Contoso VPN", TargetID: nfVPN, Devices: 2, Failed: 2, Attempts: 2, FailedAttempts: 2},
		{Tenant: "t1", CSP: msi, Product: "Google Chrome", Version: "126.0", TargetID: nfChrome, Devices: 2, Succeeded: 1, Failed: 1, Attempts: 2, FailedAttempts: 1},
		{Tenant: "t1", CSP: msi, Product: nfUnknown + " (unknown product)", TargetID: nfUnknown, Devices: 1, Failed: 1, Attempts: 1, FailedAttempts: 1},
		{Tenant: "t1", CSP: msi, Product: "tool.msi", Version: "1.4", TargetID: nfTool, Devices: 1, Failed: 1, Attempts: 1, FailedAttempts: 1},
	}
	if fmt.Sprint(rep.Products) != fmt.Sprint(wantProducts) {
		t.Errorf("products\n got %+v\nwant %+v", rep.Products, wantProducts)
	}
	var top []string
	for _, c := range rep.Causes {
		for _, p := range c.Products {
			top = append(top, fmt.Sprintf("%d %s %s %d", c.Code, p.Product, p.Version, p.Devices))
		}
	}
	// Most devices first, then by name.
	wantTop := []string{"1603 Contoso VPN  2", "1603 " + nfUnknown + " (unknown product)  1", "1603 Google Chrome 126.0 1", "1618 tool.msi 1.4 1"}
	if fmt.Sprint(top) != fmt.Sprint(wantTop) {
		t.Errorf("cause products\n got %q\nwant %q", top, wantTop)
	}
}

// The analyses of schema/queries.sql that show products name them from the
// catalog too.
func TestAdminQueriesNameFromCatalog(t *testing.T) {
	s := open(t)
	now := time.Now().UTC().Truncate(time.Second)
	namingFleet(t, s, now)
	unknown := nfUnknown + " (unknown product)"
	msi := event.CSPMSI
	checks := []struct {
		query string
		args  map[string]string
		want  []string // each somewhere in the rows
	}{
		{"failure_rate_by_product_version", map[string]string{"tenant": "t1"}, []string{
			"t1|" + msi + "|Contoso VPN||" + nfVPN + "|2|0|2|0|2|2|1",
			"t1|" + msi + "|" + unknown + "||" + nfUnknown + "|1|0|1|0|1|1|1",
			"t1|" + msi + "|tool.msi|1.4|" + nfTool + "|1|0|1|0|1|1|1",
			"t1|" + msi + "|Google Chrome|126.0|" + nfChrome + "|2|1|1|0|2|1|0.5",
		}},
		{"top_causes", map[string]string{"tenant": "t1"}, []string{"|1603|", "Contoso VPN", "Google Chrome 126.0", unknown}},
		{"device_history", map[string]string{"tenant": "t1", "device_id": "d2"}, []string{"|" + nfChrome + "|Google Chrome|126.0|"}},
		{"device_history", map[string]string{"tenant": "t1", "device_id": "d6"}, []string{"|" + nfUnknown + "|" + unknown + "||"}},
		{"devices_failing_product_now", map[string]string{"tenant": "t1", "product": "Contoso VPN"}, []string{"|d3|", "|d4|"}},
		{"devices_failing_product_now", map[string]string{"tenant": "t1", "product": nfUnknown}, []string{"|d6|device|" + msi + "|" + nfUnknown + "|" + unknown + "||win32|1603|"}},
	}
	for _, c := range checks {
		rows := runAdminQuery(t, s, c.query, c.args)
		all := strings.Join(rows, "\n")
		for _, w := range c.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s %v: no %q in\n%s", c.query, c.args, w, all)
			}
		}
	}
	if rows := runAdminQuery(t, s, "devices_failing_product_now", map[string]string{"tenant": "t1", "product": "Contoso VPN"}); len(rows) != 2 {
		t.Errorf("devices failing Contoso VPN: %q, want d3 and d4", rows)
	}
}
