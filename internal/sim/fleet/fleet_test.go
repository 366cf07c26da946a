package fleet

import (
	"bytes"
	"errors"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

func newFleet(t testing.TB, cfg Config) *Fleet {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDeterministic(t *testing.T) {
	const n = 3000
	run := func(seed int64) [][]byte {
		f := newFleet(t, Config{Devices: 200, Seed: seed})
		out := make([][]byte, n)
		for i := range out {
			out[i] = f.Next().Body
		}
		return out
	}
	a, b, c := run(7), run(7), run(8)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("seed 7 twice: message %d differs:\n%s\n----\n%s", i, a[i], b[i])
		}
	}
	same := 0
	for i := range a {
		if bytes.Equal(a[i], c[i]) {
			same++
		}
	}
	if same > 0 {
		t.Fatalf("seeds 7 and 8 give %d identical messages of %d", same, n)
	}
}

// built is what the event builder made of a fleet's messages.
type built struct {
	msg    Message
	events []event.Event
}

// build runs n messages of f through the scanner and the event builder, and
// fails when a message does not parse or its Events is not what the builder
// counts.
func build(t *testing.T, f *Fleet, n int, each func(built)) {
	t.Helper()
	sc := syncml.NewScanner(syncml.DefaultLimits)
	var b normalize.Builder
	var evs []event.Event
	for i := 0; i < n; i++ {
		m := f.Next()
		if m.Index != i {
			t.Fatalf("message %d has index %d", i, m.Index)
		}
		msg, err := sc.Parse(m.Body)
		if err != nil {
			t.Fatalf("message %d: %v\n%s", i, err, m.Body)
		}
		if got := string(msg.Header.Source); got != m.DeviceID {
			t.Fatalf("message %d: device %q, Message says %q", i, got, m.DeviceID)
		}
		var st normalize.Stats
		evs, st = b.Build(msg, normalize.Meta{Tenant: "contoso", ReceivedAt: m.At}, evs[:0])
		if st.Events != m.Events || len(evs) != m.Events {
			for _, e := range evs {
				t.Logf("%s %s %s %s %d %s", e.Kind, e.CSP, e.Node, e.TargetID, e.Code, e.Outcome)
			}
			t.Fatalf("message %d: Events %d, builder made %d (stats %d):\n%s", i, m.Events, len(evs), st.Events, m.Body)
		}
		critical := false
		for _, e := range evs {
			critical = critical || e.Mark == "critical"
		}
		if critical != m.GenericAlert {
			t.Fatalf("message %d: GenericAlert %v, critical alert %v:\n%s", i, m.GenericAlert, critical, m.Body)
		}
		each(built{m, evs})
	}
}

// Every message parses and yields exactly its Events; over 20,000 messages
// every kind, outcome and code space appears, failures spread over several
// codes, and the real-device variants show up.
func TestMessagesYieldTheirEvents(t *testing.T) {
	const n = 20000
	f := newFleet(t, Config{Devices: 500, Seed: 1})
	seen := map[string]int{}
	failCodes := map[int64]int{}
	var alerts, alertFails, events, size int
	variants := map[string]func([]byte) bool{
		"percent-encoded guid": func(b []byte) bool { return bytes.Contains(b, []byte("/%7B")) },
		"braced guid":          func(b []byte) bool { return bytes.Contains(b, []byte("/{")) },
		"lower-case guid":      func(b []byte) bool { return bytes.Contains(b, []byte("%7b")) || lowerBraced(b) },
		"./Vendor/MSFT path": func(b []byte) bool {
			return bytes.Contains(b, []byte(">./Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%7"))
		},
		"user scope":         func(b []byte) bool { return bytes.Contains(b, []byte("./User/Vendor/MSFT/")) },
		"Install node":       func(b []byte) bool { return bytes.Contains(b, []byte("/Install<")) },
		"lower-case node":    func(b []byte) bool { return bytes.Contains(b, []byte("/downloadinstall<")) },
		"CDATA":              func(b []byte) bool { return bytes.Contains(b, []byte("<![CDATA[")) },
		"hex HRESULT":        func(b []byte) bool { return bytes.Contains(b, []byte(">0x8007")) },
		"negative HRESULT":   func(b []byte) bool { return bytes.Contains(b, []byte(">-2147")) },
		"originalerror":      func(b []byte) bool { return bytes.Contains(b, []byte("msft:originalerror=")) },
		"Type under Item":    func(b []byte) bool { return bytes.Contains(b, []byte("</Source><Type>")) },
		"SyncML 1.1":         func(b []byte) bool { return bytes.Contains(b, []byte("SYNCML:SYNCML1.1")) },
		"padded values":      func(b []byte) bool { return bytes.Contains(b, []byte("<LocURI>\r\n ")) },
		"pretty printed":     func(b []byte) bool { return bytes.Contains(b, []byte(">\r\n  <")) },
		"XML declaration":    func(b []byte) bool { return bytes.Contains(b, []byte("<?xml")) },
		"BOM":                func(b []byte) bool { return bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) },
		"Meta without xmlns": func(b []byte) bool { return bytes.Contains(b, []byte("<Meta><Format>")) },
		"LoginStatus alert":  func(b []byte) bool { return bytes.Contains(b, []byte("com.microsoft/MDM/LoginStatus")) },
		"synctype alert":     func(b []byte) bool { return bytes.Contains(b, []byte("com.microsoft.mdm.synctype")) },
		"alert 1224 install": func(b []byte) bool { return bytes.Contains(b, []byte("<Data>1224</Data><Item><Source>")) },
		"alert 1226":         func(b []byte) bool { return bytes.Contains(b, []byte("<Data>1226</Data>")) },
		"UUID CmdRef":        func(b []byte) bool { return uuidCmdRef.Match(b) },
		"Atomic Status":      func(b []byte) bool { return bytes.Contains(b, []byte("<Cmd>Atomic</Cmd>")) },
		"404 to a Get": func(b []byte) bool {
			return bytes.Contains(b, []byte(`<Cmd>Get</Cmd><Data msft:originalerror="0x86000002">404</Data>`))
		},
	}
	found := map[string]int{}
	build(t, f, n, func(x built) {
		size += len(x.msg.Body)
		events += len(x.events)
		for name, has := range variants {
			if has(x.msg.Body) {
				found[name]++
			}
		}
		for _, e := range x.events {
			seen["kind "+e.Kind]++
			seen["outcome "+e.Outcome]++
			if e.CodeSpace != "" {
				seen["space "+e.CodeSpace]++
			}
			if e.Category != "" {
				seen["category "+e.Category]++
			}
			seen["csp "+e.CSP]++
			seen["scope "+e.Scope]++
			if e.Kind == event.KindAlert {
				alerts++
				if e.AlertType != normalize.InstallAlertType {
					t.Fatalf("alert event of type %q", e.AlertType)
				}
				if e.Outcome == "failed" {
					alertFails++
					failCodes[e.Code]++
				}
			}
			if e.Outcome == "failed" && e.Kind == event.KindResult && e.Node == "Status" && e.CSP == event.CSPOffice {
				failCodes[e.Code]++
			}
		}
	})
	t.Logf("%d messages, %.2f events/msg, %d bytes/msg; %d install alerts, %.1f%% failed",
		n, float64(events)/n, size/n, alerts, 100*float64(alertFails)/float64(alerts))
	var want []string
	for _, k := range []string{event.KindAlert, event.KindResult, event.KindStatus, event.KindInventory} {
		want = append(want, "kind "+k)
	}
	for _, o := range []string{"succeeded", "failed", "in_progress", "pending", "retrying", "unknown"} {
		want = append(want, "outcome "+o)
	}
	for _, s := range []string{"office_status", "office_final", "msi_status", "win32", "hresult", "omadm"} {
		want = append(want, "space "+s)
	}
	for _, c := range []string{"prerequisite", "network", "conflict", "disk", "content", "signature", "user_cancel", "reboot_required"} {
		want = append(want, "category "+c)
	}
	want = append(want, "csp "+event.CSPOffice, "csp "+event.CSPMSI, "csp ", "scope device", "scope user")
	for _, w := range want {
		if seen[w] == 0 {
			t.Errorf("no event with %s", w)
		}
	}
	for name := range variants {
		if found[name] == 0 {
			t.Errorf("no message shows the variant %q", name)
		}
	}
	if t.Failed() {
		t.Logf("seen %v\nvariants %v", seen, found)
	}
	// Mostly successes, a few failures spread over several codes.
	if r := float64(alertFails) / float64(alerts); r < 0.03 || r > 0.3 {
		t.Errorf("%.1f%% of install alerts failed, want a few", 100*r)
	}
	for _, c := range []int64{1603, 1618, 1638, -2147023293, 17002} {
		if failCodes[c] == 0 {
			t.Errorf("no failure with code %d; failures by code %v", c, failCodes)
		}
	}
	if seen["outcome succeeded"] < 5*seen["outcome failed"] {
		t.Errorf("%d successes, %d failures: want mostly successes", seen["outcome succeeded"], seen["outcome failed"])
	}
}

var uuidCmdRef = regexp.MustCompile(`<CmdRef>[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}</CmdRef>`)

func lowerBraced(b []byte) bool {
	i := bytes.Index(b, []byte("/{"))
	return i >= 0 && i+3 < len(b) && (b[i+2] >= 'a' && b[i+2] <= 'f' || b[i+3] >= 'a' && b[i+3] <= 'f')
}

// After the spike starts, failures of the spiked version with its code come
// from at least Fraction of the distinct devices that reported the
// version's result, and from none before.
func TestSpike(t *testing.T) {
	tests := []struct {
		name     string
		spike    Spike
		office   bool
		fraction float64
	}{
		{"msi 1603", Spike{Product: "7-Zip (x64 edition)", Version: "24.08.00.0", Code: 1603, Start: 2500, Fraction: 0.3}, false, 0.3},
		{"msi hresult by id", Spike{Product: "{23170F69-40C1-2702-2408-000001000000}", Code: 0x80070643, Start: 1500, Fraction: 0.5}, false, 0.5},
		{"msi newest, everyone", Spike{Product: "google chrome", Code: 1618, Start: 3000, Fraction: 1}, false, 1},
		{"office 17002", Spike{Product: "Microsoft 365 Apps for enterprise", Version: "16.0.17928.20156", Code: 17002, Start: 2000, Fraction: 0.25}, true, 0.25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := tt.spike
			f := newFleet(t, Config{Devices: 200, Seed: 3, Spike: &sp})
			target := f.ids[f.spike.product][f.spike.version]
			code := normCode(sp.Code)
			reached, failing := map[string]bool{}, map[string]bool{}
			build(t, f, 12000, func(x built) {
				// Results first: a message reports Office's Status before its FinalStatus.
				for _, e := range x.events {
					terminal := e.Kind == event.KindAlert
					if tt.office {
						terminal = e.Node == "FinalStatus"
					}
					if e.TargetID == target && terminal && x.msg.Index >= sp.Start {
						reached[e.DeviceID] = true
					}
				}
				for _, e := range x.events {
					if e.TargetID != target || e.Outcome != "failed" || e.Code != code && e.Win32Code != code {
						continue
					}
					if x.msg.Index < sp.Start {
						t.Fatalf("message %d before the spike fails with its code: %+v", x.msg.Index, e)
					}
					if !reached[e.DeviceID] {
						t.Fatalf("message %d: device %s fails before it reported a result", x.msg.Index, e.DeviceID)
					}
					failing[e.DeviceID] = true
				}
			})
			t.Logf("%d devices reached, %d failing", len(reached), len(failing))
			if len(reached) < 100 {
				t.Fatalf("only %d devices reported the spiked version", len(reached))
			}
			if float64(len(failing)) < tt.fraction*float64(len(reached)) {
				t.Fatalf("%d of %d devices fail, want at least %.0f%%", len(failing), len(reached), 100*tt.fraction)
			}
			if tt.fraction < 1 && float64(len(failing)) > tt.fraction*float64(len(reached))+1 {
				t.Fatalf("%d of %d devices fail, want about %.0f%%", len(failing), len(reached), 100*tt.fraction)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	products := []Product{{Kind: MSI, Name: "A", Versions: []string{"1.0", "2.0"}, Share: 0.5}}
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero value", Config{}, true},
		{"spike on a default product", Config{Spike: &Spike{Product: "Google Chrome", Version: "130.0.6723.117", Code: 1603, Fraction: 0.2}}, true},
		{"spike on the newest version", Config{Products: products, Spike: &Spike{Product: "a", Code: 1603, Fraction: 1}}, true},
		{"negative devices", Config{Devices: -1}, false},
		{"negative step", Config{Step: -time.Second}, false},
		{"product without name", Config{Products: []Product{{Versions: []string{"1"}}}}, false},
		{"product without versions", Config{Products: []Product{{Name: "A"}}}, false},
		{"share above 1", Config{Products: []Product{{Name: "A", Versions: []string{"1"}, Share: 1.5}}}, false},
		{"negative user share", Config{Products: []Product{{Name: "A", Versions: []string{"1"}, UserShare: -0.1}}}, false},
		{"spike fraction 0", Config{Products: products, Spike: &Spike{Product: "A", Fraction: 0}}, false},
		{"spike fraction above 1", Config{Products: products, Spike: &Spike{Product: "A", Fraction: 1.01}}, false},
		{"spike fraction NaN", Config{Products: products, Spike: &Spike{Product: "A", Fraction: math.NaN()}}, false},
		{"spike negative start", Config{Products: products, Spike: &Spike{Product: "A", Fraction: 0.5, Start: -1}}, false},
		{"spike unknown product", Config{Products: products, Spike: &Spike{Product: "B", Fraction: 0.5}}, false},
		{"spike unknown version", Config{Products: products, Spike: &Spike{Product: "A", Version: "3.0", Fraction: 0.5}}, false},
		{"two versions, one ProductCode", Config{Products: []Product{{Name: "A", Versions: []string{"1", "2"},
			IDs: []string{"{0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0}", "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"}}}}, false},
		{"two products, one ProductCode", Config{Products: []Product{{Name: "A", Versions: []string{"1"}, IDs: []string{"0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0"}},
			{Name: "B", Versions: []string{"1"}, IDs: []string{"0F1E2D3C-4B5A-4968-8776-A5B4C3D2E1F0"}}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, errConfig) {
				t.Fatalf("error %v does not wrap errConfig", err)
			}
			if _, err := New(tt.cfg); (err == nil) != tt.ok {
				t.Fatalf("New() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// A Clock stamps the messages; without one they are Step apart from Start.
func TestTimestamps(t *testing.T) {
	f := newFleet(t, Config{Devices: 3})
	for i := 0; i < 3; i++ {
		if m := f.Next(); !m.At.Equal(defaultStart.Add(time.Duration(i) * 20 * time.Millisecond)) {
			t.Fatalf("message %d at %v", i, m.At)
		}
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f = newFleet(t, Config{Devices: 3, Clock: func() time.Time { return at }})
	starts := 0
	for i := 0; i < 20; i++ {
		m := f.Next()
		if !m.At.Equal(at) {
			t.Fatalf("clocked message at %v", m.At)
		}
		// A session's first message carries the device's local time.
		if strings.Contains(string(m.Body), "<MsgID>1</MsgID>") {
			starts++
			if !strings.Contains(string(m.Body), "2030-01-02T03:04:05") {
				t.Fatalf("session start without the clock's time:\n%s", m.Body)
			}
		}
	}
	if starts == 0 {
		t.Fatal("no session started in 20 messages")
	}
}

// The default catalogue is Office and about a dozen MSIs. Every version is
// its own product: its own ProductID (the same as the fleet writes in
// LocURIs) and, for MSIs, its own .msi named after the version.
func TestDefaultProducts(t *testing.T) {
	ps := DefaultProducts()
	office, msi := 0, 0
	for i := range ps {
		if ps[i].Kind == Office {
			office++
		} else {
			msi++
		}
	}
	if office != 1 || msi < 10 {
		t.Fatalf("%d Office, %d MSI products", office, msi)
	}
	table := Table(nil)
	f := newFleet(t, Config{Devices: 1})
	if !slices.Equal(table, f.Table()) {
		t.Fatal("the fleet's table is not the default products' table")
	}
	guid := regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`)
	var ids, files []string
	k := 0
	for i := range ps {
		for v, ver := range ps[i].Versions {
			pv := table[k]
			k++
			if pv.Name != ps[i].Name || pv.Publisher != ps[i].Publisher || pv.Version != ver || pv.Kind != ps[i].Kind {
				t.Fatalf("table row %+v for %s %s", pv, ps[i].Name, ver)
			}
			if !guid.MatchString(pv.ProductID) || pv.ProductID != f.ids[i][v] {
				t.Fatalf("%s %s: ProductID %q, the fleet writes %q", pv.Name, ver, pv.ProductID, f.ids[i][v])
			}
			ids = append(ids, pv.ProductID)
			if pv.Kind == MSI {
				if !strings.HasSuffix(pv.FileName, ".msi") || !strings.Contains(pv.FileName, ver) {
					t.Fatalf("%s %s: file %q", pv.Name, ver, pv.FileName)
				}
				files = append(files, pv.FileName)
			} else if pv.FileName != "" {
				t.Fatalf("Office with an .msi: %+v", pv)
			}
		}
	}
	if k != len(table) {
		t.Fatalf("table has %d rows, products %d versions", len(table), k)
	}
	slices.Sort(ids)
	if len(slices.Compact(ids)) != len(table) {
		t.Fatal("two product versions share an id")
	}
	slices.Sort(files)
	if len(slices.Compact(files)) != len(files) {
		t.Fatal("two product versions share an .msi")
	}
	if got := (&Product{Name: "Foo Bar (x64)", Versions: []string{"1.2"}}).fileName(0); got != "FooBarx64-1.2.msi" {
		t.Fatalf("default file name %q", got)
	}
}

// BenchmarkNext measures making one message of a fleet in its steady state:
// the default 5,000 devices, past the first sessions.
func BenchmarkNext(b *testing.B) {
	f := newFleet(b, Config{Seed: 1})
	for range 50000 {
		f.Next()
	}
	var n int64
	b.ReportAllocs()
	for b.Loop() {
		n += int64(len(f.Next().Body))
	}
	b.SetBytes(n / int64(b.N))
}
