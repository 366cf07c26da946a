package fleet

import (
	"bytes"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/installjob"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

// targetOf returns the MSI ProductID or Office installation id a LocURI
// names, as events carry it: percent-decoded, without braces, upper case;
// "" when it names none.
func targetOf(loc string) string {
	for _, csp := range []string{"/EnterpriseDesktopAppManagement/MSI/", "/Office/Installation/"} {
		i := strings.Index(loc, csp)
		if i < 0 {
			continue
		}
		seg, _, ok := strings.Cut(loc[i+len(csp):], "/")
		if !ok || seg == "CurrentStatus" {
			return ""
		}
		if u, err := url.PathUnescape(seg); err == nil {
			seg = u
		}
		return strings.ToUpper(strings.Trim(seg, "{}"))
	}
	return ""
}

// sentCmd is one command of a server message, as the scanner read it.
type sentCmd struct {
	kind    syncml.Kind
	targets []string
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// Both halves of the conversation: every server message parses, is
// addressed to its device in the device's session, and carries install
// documents that installjob reads as the product table says; every Status
// and Results of the device answers a command of the server message it
// answers (same device, session, MsgID as MsgRef, CmdID as CmdRef), every
// command is answered once, and the server's variants appear: UUID CmdIDs,
// Atomic, CDATA, 404 answers with no TargetRef, late copies.
func TestConversation(t *testing.T) {
	const n = 20000
	f := newFleet(t, Config{Devices: 500, Seed: 1, Commands: true})
	table := map[string]ProductVersion{}
	for _, pv := range f.Table() {
		table[pv.ProductID] = pv
	}
	ssc, dsc := syncml.NewScanner(syncml.DefaultLimits), syncml.NewScanner(syncml.DefaultLimits)
	count := map[string]int{}
	for i := 0; i < n; i++ {
		m := f.Next()
		dev, err := dsc.Parse(m.Body)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if string(dev.Header.MsgID) == "1" {
			if m.Server != nil {
				t.Fatalf("message %d opens a session but answers a server message", i)
			}
			continue
		}
		s := m.Server
		if s == nil {
			t.Fatalf("message %d (MsgID %s) answers no server message", i, dev.Header.MsgID)
		}
		count["server messages"]++
		if s.Late {
			count["late"]++
		}
		if !s.At.Equal(m.At) {
			t.Fatalf("message %d: server message at %v, answer at %v", i, s.At, m.At)
		}
		srv, err := ssc.Parse(s.Body)
		if err != nil {
			t.Fatalf("server message %d: %v\n%s", i, err, s.Body)
		}
		h := srv.Header
		if string(h.Source) != f.Server() || string(h.Target) != m.DeviceID {
			t.Fatalf("server message %d: Source %q Target %q, want %q and %q", i, h.Source, h.Target, f.Server(), m.DeviceID)
		}
		if !bytes.Equal(h.SessionID, dev.Header.SessionID) || string(h.SessionID) != s.SessionID || string(h.MsgID) != s.MsgID {
			t.Fatalf("server message %d: session %q msg %q; answer in session %q; ServerMessage says %q %q",
				i, h.SessionID, h.MsgID, dev.Header.SessionID, s.SessionID, s.MsgID)
		}
		// The server's commands, by CmdID.
		cmds := map[string]*sentCmd{}
		answered := map[string]int{}
		for ci := range srv.Commands {
			c := &srv.Commands[ci]
			if c.Kind == syncml.KindStatus {
				if string(c.MsgRef) != s.MsgID {
					t.Fatalf("server message %d: Status MsgRef %q, want %s", i, c.MsgRef, s.MsgID)
				}
				continue
			}
			id := string(c.CmdID)
			if _, dup := cmds[id]; dup {
				t.Fatalf("server message %d: CmdID %s twice", i, id)
			}
			if uuidRE.MatchString(id) {
				count["uuid cmdid"]++
			}
			sc := &sentCmd{kind: c.Kind}
			for _, it := range c.Items {
				sc.targets = append(sc.targets, string(it.Target))
			}
			cmds[id] = sc
			switch c.Kind {
			case syncml.KindAtomic:
				count["atomic"]++
			case syncml.KindExec:
				checkExec(t, i, c, table, count)
				if c.Parent >= 0 {
					count["exec in atomic"]++
				}
			}
		}
		if len(cmds) != s.Commands {
			t.Fatalf("server message %d: %d commands, ServerMessage says %d", i, len(cmds), s.Commands)
		}
		if bytes.Contains(s.Body, []byte("<Data><![CDATA[<MsiInstallJob")) {
			count["cdata job"]++
		}
		if bytes.Contains(s.Body, []byte("<Data><MsiInstallJob")) {
			count["raw job"]++
		}
		if bytes.Contains(s.Body, []byte("&amp;lt;MsiInstallJob")) {
			count["job escaped twice"]++
		}
		// The device's answers.
		for ci := range dev.Commands {
			c := &dev.Commands[ci]
			if c.Kind != syncml.KindStatus && c.Kind != syncml.KindResults {
				continue
			}
			if string(c.MsgRef) != s.MsgID {
				t.Fatalf("message %d: MsgRef %q answers server message %s", i, c.MsgRef, s.MsgID)
			}
			if c.Kind == syncml.KindStatus && string(c.Cmd) == "SyncHdr" {
				continue
			}
			ref := string(c.CmdRef)
			sc, ok := cmds[ref]
			if !ok {
				t.Fatalf("message %d: %s answers CmdRef %s, which server message %s of session %s lacks:\n%s\n----\n%s",
					i, c.Kind, ref, s.MsgID, s.SessionID, s.Body, m.Body)
			}
			if uuidRE.MatchString(ref) {
				count["uuid cmdref"]++
			}
			if c.Kind == syncml.KindResults {
				if sc.kind != syncml.KindGet {
					t.Fatalf("message %d: Results answer a %s", i, sc.kind)
				}
				if sc.targets[0] != "./Vendor/MSFT/EnterpriseDesktopAppManagement/MSI" {
					var got []string
					for _, it := range c.Items {
						got = append(got, string(it.Source))
					}
					if !slices.Equal(got, sc.targets) {
						t.Fatalf("message %d: Results of %v, the Get read %v", i, got, sc.targets)
					}
				}
				continue
			}
			answered[ref]++
			if string(c.Cmd) != sc.kind.String() {
				t.Fatalf("message %d: Status for a %s answers a %s", i, c.Cmd, sc.kind)
			}
			if string(c.Data) == "404" && sc.kind == syncml.KindGet && len(c.TargetRef) == 0 {
				count["404 to a Get"]++
				if len(sc.targets) == 0 || !strings.HasSuffix(sc.targets[0], "/Status") && !strings.HasSuffix(sc.targets[0], "/status") {
					t.Fatalf("message %d: 404 answers a Get of %v", i, sc.targets)
				}
				id := targetOf(sc.targets[0])
				if pv, ok := table[id]; !ok || pv.Kind != MSI {
					t.Fatalf("message %d: 404 answers a Get of %v, no MSI of the table", i, sc.targets)
				}
				for _, tg := range sc.targets {
					if targetOf(tg) != id {
						t.Fatalf("message %d: the Get answered 404 reads several products: %v", i, sc.targets)
					}
				}
				if len(c.OriginalError) > 0 {
					count["404 with originalerror"]++
					if string(c.OriginalError) != "0x86000002" || !bytes.Contains(m.Body, []byte(`<SyncBody xmlns:msft="http://schemas.microsoft.com/MobileDevice/MDM">`)) {
						t.Fatalf("message %d: originalerror %q, or SyncBody without xmlns:msft:\n%s", i, c.OriginalError, m.Body)
					}
				}
			}
		}
		for id := range cmds {
			if answered[id] != 1 {
				t.Fatalf("message %d: the device answers command %s %d times:\n%s\n----\n%s", i, id, answered[id], s.Body, m.Body)
			}
		}
	}
	t.Logf("%v", count)
	for _, k := range []string{"uuid cmdid", "uuid cmdref", "atomic", "exec in atomic", "msi exec", "office exec",
		"cdata job", "raw job", "job escaped twice", "404 to a Get", "404 with originalerror", "two content urls"} {
		if count[k] == 0 {
			t.Errorf("no %s in %d messages", k, n)
		}
	}
	if r := float64(count["late"]) / float64(count["server messages"]); r < 0.01 || r > 0.1 {
		t.Errorf("%.1f%% of the server messages are late, want a few", 100*r)
	}
}

// checkExec checks an install Exec's document against the product table.
func checkExec(t *testing.T, i int, c *syncml.Command, table map[string]ProductVersion, count map[string]int) {
	t.Helper()
	if len(c.Items) != 1 {
		t.Fatalf("server message %d: Exec with %d items", i, len(c.Items))
	}
	it := c.Items[0]
	id := targetOf(string(it.Target))
	pv, ok := table[id]
	if !ok {
		t.Fatalf("server message %d: Exec of %s, no product of the table", i, it.Target)
	}
	if pv.Kind == Office {
		count["office exec"]++
		cfg, err := installjob.ParseOfficeConfig(it.Data)
		if err != nil {
			t.Fatalf("server message %d: ODT configuration: %v\n%s", i, err, it.Data)
		}
		if !slices.Equal(cfg.ProductIDs, []string{"O365ProPlusRetail"}) || cfg.Channel == "" || cfg.Version != pv.Version ||
			len(cfg.Languages) == 0 || cfg.Edition != "64" || cfg.Remove {
			t.Fatalf("server message %d: ODT configuration %+v for %+v", i, cfg, pv)
		}
		return
	}
	count["msi exec"]++
	if !strings.HasSuffix(string(it.Target), "/DownloadInstall") && !strings.HasSuffix(string(it.Target), "/downloadinstall") {
		t.Fatalf("server message %d: MSI Exec of %s", i, it.Target)
	}
	job, err := installjob.ParseMSIJob(it.Data)
	if err != nil {
		t.Fatalf("server message %d: MsiInstallJob: %v\n%s", i, err, it.Data)
	}
	if job.ID != "{"+pv.ProductID+"}" || job.ProductVersion != pv.Version || job.FileName != pv.FileName ||
		len(job.FileHash) != 64 || job.CommandLine == "" || job.TimeoutMinutes <= 0 || job.RetryCount <= 0 ||
		job.RetryIntervalMinutes <= 0 || len(job.Warnings) > 0 {
		t.Fatalf("server message %d: MsiInstallJob %+v for %+v", i, job, pv)
	}
	if len(job.ContentURLs) > 1 {
		count["two content urls"]++
	}
}

// The device messages are the same bytes whether or not the fleet writes
// the server's, and both are the same for the same seed.
func TestDeterministicConversation(t *testing.T) {
	const n = 3000
	type pair struct {
		dev, srv []byte
		late     bool
	}
	run := func(commands bool) []pair {
		f := newFleet(t, Config{Devices: 200, Seed: 7, Commands: commands,
			Spike: &Spike{Product: "Google Chrome", Code: 1603, Start: 1000, Fraction: 0.5}})
		out := make([]pair, n)
		for i := range out {
			m := f.Next()
			out[i].dev = m.Body
			if m.Server != nil {
				out[i].srv, out[i].late = m.Server.Body, m.Server.Late
			}
		}
		return out
	}
	a, b, plain := run(true), run(true), run(false)
	servers := 0
	for i := range a {
		if !bytes.Equal(a[i].dev, b[i].dev) || !bytes.Equal(a[i].srv, b[i].srv) || a[i].late != b[i].late {
			t.Fatalf("seed 7 twice: message %d differs", i)
		}
		if !bytes.Equal(a[i].dev, plain[i].dev) {
			t.Fatalf("message %d differs with and without the server's messages:\n%s\n----\n%s", i, a[i].dev, plain[i].dev)
		}
		if plain[i].srv != nil {
			t.Fatalf("message %d carries a server message without Config.Commands", i)
		}
		if a[i].srv != nil {
			servers++
		}
	}
	if servers < n/3 {
		t.Fatalf("%d server messages in %d", servers, n)
	}
}

// The spiked version is its own MSI product, and the failures of the spike
// name only its ProductID: what it is comes from the server's
// MsiInstallJob (version and .msi) and from the devices that installed it
// (inventory), so a report names it only through the catalog.
func TestSpikeNamedByCatalog(t *testing.T) {
	sp := Spike{Product: "Google Chrome", Code: 1603, Start: 2000, Fraction: 0.6}
	f := newFleet(t, Config{Devices: 300, Seed: 5, Commands: true, Spike: &sp})
	var chrome []ProductVersion
	for _, pv := range f.Table() {
		if pv.Name == "Google Chrome" {
			chrome = append(chrome, pv)
		}
	}
	newest := chrome[len(chrome)-1]
	if newest.Version != "131.0.6778.86" || newest.FileName != "GoogleChromeStandaloneEnterprise64-131.0.6778.86.msi" {
		t.Fatalf("newest Chrome %+v", newest)
	}
	for _, pv := range chrome[:len(chrome)-1] {
		if pv.ProductID == newest.ProductID {
			t.Fatalf("Chrome %s and %s share a ProductID", pv.Version, newest.Version)
		}
	}
	if f.ids[f.spike.product][f.spike.version] != newest.ProductID {
		t.Fatalf("the spike is on %s, not on the newest Chrome's ProductID %s", f.ids[f.spike.product][f.spike.version], newest.ProductID)
	}
	ssc := syncml.NewScanner(syncml.DefaultLimits)
	var (
		jobs, named, spikeFailures int
		failing                    = map[string]bool{}
	)
	build(t, f, 12000, func(x built) {
		if s := x.msg.Server; s != nil {
			srv, err := ssc.Parse(s.Body)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range srv.Commands {
				if c.Kind != syncml.KindExec || targetOf(string(c.Items[0].Target)) != newest.ProductID {
					continue
				}
				job, err := installjob.ParseMSIJob(c.Items[0].Data)
				if err != nil || job.ProductVersion != newest.Version || job.FileName != newest.FileName {
					t.Fatalf("MsiInstallJob of the newest Chrome: %+v, %v", job, err)
				}
				jobs++
			}
		}
		for _, e := range x.events {
			if e.TargetID != newest.ProductID {
				continue
			}
			if e.Product != nil && e.Product.Name != "" {
				if e.Product.Name != "Google Chrome" || e.Product.Version != newest.Version {
					t.Fatalf("event names %+v", e.Product)
				}
				named++
			}
			if e.Outcome == "failed" && (e.Code == 1603 || e.Win32Code == 1603) {
				spikeFailures++
				failing[e.DeviceID] = true
				if e.Product != nil && (e.Product.Name != "" || e.Product.Version != "") {
					t.Fatalf("a failure of the spike names the product itself: %+v", e)
				}
			}
		}
	})
	t.Logf("%d MsiInstallJobs, %d events naming it, %d spike failures on %d devices", jobs, named, spikeFailures, len(failing))
	if jobs == 0 || named == 0 || len(failing) < 20 {
		t.Fatalf("%d MsiInstallJobs of the newest Chrome, %d events naming it, %d devices failing", jobs, named, len(failing))
	}
}

// A 404 to a Get of an install's Status yields a failed status event that
// names no product: its CmdRef is all that ties it to the Get, and so to
// the install.
func TestNotFoundAnswers(t *testing.T) {
	f := newFleet(t, Config{Devices: 400, Seed: 2})
	found := 0
	build(t, f, 8000, func(x built) {
		for _, e := range x.events {
			if e.Kind != event.KindStatus || e.Code != 404 || e.OriginalError != "0x86000002" {
				continue
			}
			if e.Outcome != "failed" || e.CSP != "" || e.TargetID != "" || e.Node != "" || e.LocURI != "" {
				t.Fatalf("404 event %+v", e)
			}
			found++
		}
	})
	if found == 0 {
		t.Fatal("no 404 answer")
	}
}

// BenchmarkNextWithCommands is BenchmarkNext with the server's messages
// written too: the bytes are both messages'.
func BenchmarkNextWithCommands(b *testing.B) {
	f := newFleet(b, Config{Seed: 1, Commands: true})
	for range 50000 {
		f.Next()
	}
	var n int64
	b.ReportAllocs()
	for b.Loop() {
		m := f.Next()
		n += int64(len(m.Body))
		if m.Server != nil {
			n += int64(len(m.Server.Body))
		}
	}
	b.SetBytes(n / int64(b.N))
}

// What ingest makes of both halves ties them together: the server's
// messages yield the command events ServerMessage.Events says, with the
// install documents read as the product table says, and every device
// answer about an install, a 404 with no TargetRef included, finds the
// command it answers by (device, session, MsgRef, CmdRef) = (device,
// session, MsgID, CmdID) whatever order they are looked at in, naming one
// product, as the store's attribution joins them.
func TestAttribution(t *testing.T) {
	const n = 12000
	f := newFleet(t, Config{Devices: 400, Seed: 3, Commands: true})
	table := map[string]ProductVersion{}
	for _, pv := range f.Table() {
		table[pv.ProductID] = pv
	}
	type key struct{ device, session, msg, cmd string }
	type target struct{ csp, id string }
	commands := map[key]map[target]bool{}
	var answers []event.Event
	sc := syncml.NewScanner(syncml.DefaultLimits)
	var b normalize.Builder
	execs := 0
	for i := 0; i < n; i++ {
		m := f.Next()
		if s := m.Server; s != nil {
			msg, err := sc.Parse(s.Body)
			if err != nil {
				t.Fatal(err)
			}
			evs, st := b.BuildCommands(msg, normalize.Meta{Tenant: "contoso", ReceivedAt: s.At}, nil)
			if len(evs) != s.Events || st.PayloadRejected != 0 {
				for _, e := range evs {
					t.Logf("%s %s %s %s %s", e.Command, e.CmdIDRaw, e.CSP, e.TargetID, e.Node)
				}
				t.Fatalf("server message %d: %d command events (%d documents rejected), Events says %d:\n%s", i, len(evs), st.PayloadRejected, s.Events, s.Body)
			}
			for _, e := range evs {
				if e.Kind != event.KindCommand || e.DeviceID != m.DeviceID || e.SessionID != s.SessionID || e.MsgID != s.MsgID || e.CmdIDRaw == "" {
					t.Fatalf("server message %d: command event %+v", i, e)
				}
				if e.Command == event.CommandExec {
					execs++
					pv, ok := table[e.TargetID]
					switch {
					case !ok:
						t.Fatalf("Exec of %s, not in the table", e.TargetID)
					case pv.Kind == MSI && (e.MSIJob == nil || e.MSIJob.ProductVersion != pv.Version || e.MSIJob.FileName != pv.FileName):
						t.Fatalf("Exec of %+v: msi_job %+v", pv, e.MSIJob)
					case pv.Kind == Office && (e.OfficeConfig == nil || e.OfficeConfig.Version != pv.Version):
						t.Fatalf("Exec of %+v: office_config %+v", pv, e.OfficeConfig)
					}
				}
				if e.TargetID == "" {
					continue
				}
				k := key{e.DeviceID, e.SessionID, e.MsgID, e.CmdIDRaw}
				if commands[k] == nil {
					commands[k] = map[target]bool{}
				}
				commands[k][target{e.CSP, e.TargetID}] = true
			}
		}
		msg, err := sc.Parse(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		evs, _ := b.Build(msg, normalize.Meta{Tenant: "contoso", ReceivedAt: m.At}, nil)
		for _, e := range evs {
			if e.CmdRefRaw != "" && e.MsgID != "3" { // the inventory answers a Get of the MSI root
				answers = append(answers, e)
			}
		}
	}
	notFound, checked := 0, 0
	for _, e := range answers {
		set := commands[key{e.DeviceID, e.SessionID, e.MsgRef, e.CmdRefRaw}]
		switch {
		case e.CSP == "" && e.Code == 404 && e.OriginalError == "0x86000002":
			if len(set) != 1 {
				t.Fatalf("404 answer %+v: commands %v", e, set)
			}
			for tg := range set {
				if pv, ok := table[tg.id]; !ok || pv.Kind != MSI || tg.csp != event.CSPMSI {
					t.Fatalf("404 answer attributed to %v", tg)
				}
			}
			notFound++
		case e.CSP != "" && e.TargetID != "":
			if !set[target{e.CSP, e.TargetID}] {
				t.Fatalf("answer %s %s %s %s (MsgRef %s CmdRef %s) matches no command: %v", e.Kind, e.CSP, e.TargetID, e.Node, e.MsgRef, e.CmdRefRaw, set)
			}
			checked++
		}
	}
	t.Logf("%d command keys, %d Execs; %d answers matched, %d 404 answers attributed", len(commands), execs, checked, notFound)
	if notFound == 0 || checked == 0 || execs == 0 {
		t.Fatal("nothing to attribute")
	}
}
