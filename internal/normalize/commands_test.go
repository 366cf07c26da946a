package normalize

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/testkit"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

func buildCommandsFile(t testing.TB, path string) ([]event.Event, Stats) {
	t.Helper()
	var b Builder
	return b.BuildCommands(parseFile(t, path), testMeta, nil)
}

// commandSummary is the part of a command event the rules decide.
func commandSummary(e *event.Event) string {
	s := fmt.Sprintf("%s %s %s %s %s %s cmd=%d/%s", e.Command, e.Scope, csp(e.CSP), orDash(e.TargetID), orDash(e.Node), e.Outcome, e.CmdID, orDash(e.CmdIDRaw))
	if e.Kind != event.KindCommand || e.Code != 0 || e.CmdRef != 0 || e.MsgRef != "" || e.CmdRefRaw != "" || e.CodeSpace != "" {
		s += fmt.Sprintf(" BAD kind=%s code=%d ref=%d/%q/%q", e.Kind, e.Code, e.CmdRef, e.MsgRef, e.CmdRefRaw)
	}
	if j := e.MSIJob; j != nil {
		s += fmt.Sprintf(" msi_job=%s/%s/%s/%v/%d/%d/%d", j.ID, j.ProductVersion, j.FileName, j.ContentURLs, j.TimeoutMin, j.RetryCount, j.RetryIntervalMin)
	}
	if c := e.OfficeConfig; c != nil {
		s += fmt.Sprintf(" office=%v/%s/%s/%s/%v/%v", c.ProductIDs, c.Channel, c.Version, c.Edition, c.Languages, c.Remove)
	}
	if e.PayloadError != "" {
		s += " payload_error=" + e.PayloadError
	}
	return s
}

// commandFiles are the server messages of testdata/commands.
func commandFiles(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob("testdata/commands/*.xml")
	if len(files) == 0 {
		t.Fatal("no testdata/commands")
	}
	return files
}

// TestBuildCommandsRules checks, file by file, which commands of a server's
// message become which command events.
func TestBuildCommandsRules(t *testing.T) {
	const (
		orca    = "6F7CB29F-1319-4816-B345-0856916EB801"
		b1      = "B1C2D3E4-F506-4718-A293-A4B5C6D7E8F9"
		o365    = "90160000-008C-0000-1000-0000000FF1CE"
		user9f  = "9F8E7D6C-5B4A-4392-8170-6F5E4D3C2B1A"
		orcaJob = " msi_job={AF9257BA-6BBD-4624-AA9B-0182D0C2E9A5}/1.0.0.0/Orca.msi/[http://dp.example.test/Orca.msi https://dp2.example.test/packages/Orca.msi]/5/3/5"
	)
	tests := []struct {
		file             string
		want             []string
		skipped, payload int
	}{
		{"msi_exec_escaped.xml", []string{
			"Add device msi " + orca + " DownloadInstall requested cmd=5/5",
			"Exec device msi " + orca + " DownloadInstall requested cmd=6/6" + orcaJob,
		}, 4, 0},
		{"msi_exec_cdata.xml", []string{
			"Add device msi " + orca + " DownloadInstall requested cmd=2/2",
			"Exec device msi " + orca + " DownloadInstall requested cmd=3/3" + orcaJob,
		}, 1, 0},
		{"msi_exec_raw_children.xml", []string{
			"Add device msi " + orca + " DownloadInstall requested cmd=2/2",
			"Exec device msi " + orca + " DownloadInstall requested cmd=3/3" + orcaJob,
		}, 1, 0},
		{"office_install.xml", []string{
			"Exec device office " + o365 + " Install requested cmd=2/2 office=[O365ProPlusRetail]/Current//64/[en-us]/false",
			"Get device office " + o365 + " Status requested cmd=3/3",
			// CurrentStatus is a node of Installation, not of an installation.
			"Get device office " + o365 + " - requested cmd=3/3",
		}, 1, 0},
		{"office_odt.xml", []string{
			"Exec device office " + o365 + " Install requested cmd=2/2 office=[O365ProPlusRetail VisioProRetail]/MonthlyEnterprise/16.0.17928.20156/32/[en-us de-de MatchOS]/true",
			"Exec user office E24B23D8-94A8-4997-9E6E-8FF25025845B Install requested cmd=3/3 office=[ProjectProRetail]/Deferred//64/[fr-fr]/false",
			"Exec device office 1B2C3D4E-0000-4000-8000-000000000001 Install requested cmd=4/4 office=[]////[]/true",
			"Get device office - CurrentStatus requested cmd=5/5",
			"Get device office " + o365 + " FinalStatus requested cmd=5/5",
		}, 1, 0},
		{"atomic_uuid.xml", []string{
			"Atomic device msi " + b1 + " - requested cmd=0/5d0e1f7a-3c2b-4a19-8e6d-2f4b7c9a0e13",
			"Add device msi " + b1 + " DownloadInstall requested cmd=0/e3f4a5b6-c7d8-4e9f-a0b1-c2d3e4f5a6b7",
		}, 3, 0},
		{"sequence.xml", []string{
			"Sequence device msi " + orca + " - requested cmd=3/3",
			"Add device msi " + orca + " DownloadInstall requested cmd=4/4",
			"Exec device msi " + orca + " DownloadInstall requested cmd=7/7" + orcaJob,
			"Get device msi " + orca + " Status requested cmd=8/8",
		}, 4, 0},
		{"get_msi_status.xml", []string{
			"Get device msi " + orca + " Status requested cmd=2/2",
			"Get device msi " + orca + " LastError requested cmd=3/3",
			"Get device msi " + b1 + " Status requested cmd=4/4",
			"Get user msi " + user9f + " Status requested cmd=5/5",
			"Get user msi " + user9f + " InstallPath requested cmd=5/5",
		}, 1, 0},
		{"delete.xml", []string{
			"Delete device msi " + orca + " - requested cmd=3/3",
			"Delete device office " + o365 + " - requested cmd=4/4",
		}, 2, 0},
		{"containers.xml", []string{
			"Atomic device - - - requested cmd=0/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
			"Add device msi " + orca + " DownloadInstall requested cmd=0/11111111-2222-4333-8444-555555555555",
			"Exec device office " + o365 + " Install requested cmd=0/22222222-3333-4444-8555-666666666666 office=[O365ProPlusRetail]/Current///[]/false",
			"Sequence device msi " + orca + " - requested cmd=12/12",
			"Atomic device msi " + orca + " - requested cmd=13/13",
			"Add device msi " + orca + " DownloadInstall requested cmd=14/14",
			"Get device msi " + orca + " Status requested cmd=15/15",
			// Mixed scopes: the default scope.
			"Sequence device msi " + user9f + " - requested cmd=18/18",
			"Get user msi " + user9f + " Status requested cmd=19/19",
			"Get device msi " + user9f + " LastError requested cmd=20/20",
			"Get device msi - - requested cmd=21/21",
			"Exec device msi " + b1 + " DownloadInstall requested cmd=22/22 payload_error=syntax",
		}, 5, 1},
		{"hostile_payloads.xml", []string{
			"Add device msi " + orca + " DownloadInstall requested cmd=2/2",
			"Exec device msi " + orca + " DownloadInstall requested cmd=3/3 payload_error=doctype",
			"Exec device msi " + orca + " DownloadInstall requested cmd=4/4 payload_error=depth",
			"Exec device msi " + orca + " DownloadInstall requested cmd=5/5 payload_error=size",
			"Exec device office " + o365 + " Install requested cmd=6/6 payload_error=root",
			"Exec device office " + o365 + " Install requested cmd=7/7 payload_error=syntax",
			"Exec device msi " + orca + " DownloadInstall requested cmd=8/8 msi_job={6F7CB29F-1319-4816-B345-0856916EB801}/5.0/Orca.msi/[https://dp.example.test/Orca.msi]/10/1/2",
			"Get device msi " + orca + " Status requested cmd=9/9",
		}, 2, 5},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		seen[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			events, st := buildCommandsFile(t, filepath.Join("testdata", "commands", tc.file))
			var got []string
			for i := range events {
				got = append(got, commandSummary(&events[i]))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if st.Events != len(events) || st.Skipped != tc.skipped || st.PayloadRejected != tc.payload {
				t.Errorf("Stats %+v, want %d events, %d skipped, %d payloads rejected", st, len(events), tc.skipped, tc.payload)
			}
		})
	}
	for _, f := range commandFiles(t) {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no rule case", f)
		}
	}
}

// TestGoldenCommands pins the full JSON of the command events of every
// server message of testdata/commands (go test -update rewrites them).
func TestGoldenCommands(t *testing.T) {
	for _, f := range commandFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			events, _ := buildCommandsFile(t, f)
			checkGolden(t, f, events)
		})
	}
}

// checkGolden compares the JSON lines of events with the golden file of the
// message f, or rewrites it with -update.
func checkGolden(t *testing.T, f string, events []event.Event) {
	t.Helper()
	var out []byte
	for i := range events {
		out = eventjson.AppendJSON(out, &events[i])
		out = append(out, '\n')
	}
	testkit.Golden(t, strings.TrimSuffix(f, ".xml")+".golden.jsonl", out)
}

// TestCommandEventIDs: command event ids are deterministic and unique, hash
// the command's position among the server's commands (so the server's own
// Status before them moves nothing), and change with tenant, device,
// session and message.
func TestCommandEventIDs(t *testing.T) {
	seen := map[string]string{}
	for _, f := range commandFiles(t) {
		a, _ := buildCommandsFile(t, f)
		b, _ := buildCommandsFile(t, f)
		for i := range a {
			if a[i].EventID != b[i].EventID {
				t.Fatalf("%s event %d: id not deterministic: %s vs %s", f, i, a[i].EventID, b[i].EventID)
			}
			if len(a[i].EventID) != 32 {
				t.Fatalf("event id %q is not 128-bit hex", a[i].EventID)
			}
			if other, dup := seen[a[i].EventID]; dup {
				t.Fatalf("%s event %d: id %s also in %s", f, i, a[i].EventID, other)
			}
			seen[a[i].EventID] = f
		}
	}
	const file = "testdata/commands/sequence.xml"
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := buildCommandsFile(t, file)
	ids := func(m Meta, raw []byte) []string {
		t.Helper()
		msg, err := syncml.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		var b Builder
		evs, _ := b.BuildCommands(msg, m, nil)
		if len(evs) != len(base) {
			t.Fatalf("%d events, want %d", len(evs), len(base))
		}
		var out []string
		for i := range evs {
			out = append(out, evs[i].EventID)
		}
		return out
	}
	status := []byte(`<Status><CmdID>9</CmdID><MsgRef>2</MsgRef><CmdRef>7</CmdRef><Cmd>Alert</Cmd><Data>200</Data></Status>`)
	same := bytes.Replace(raw, []byte("<Sequence>"), append(status, "<Sequence>"...), 1)
	for i, id := range ids(testMeta, same) {
		if id != base[i].EventID {
			t.Fatalf("a server Status before the commands moved event %d's id", i)
		}
	}
	for name, mutate := range map[string]func(m *Meta, raw []byte) []byte{
		"tenant": func(m *Meta, raw []byte) []byte { m.Tenant = "fabrikam"; return raw },
		"message": func(m *Meta, raw []byte) []byte {
			return bytes.Replace(raw, []byte("<MsgID>3<"), []byte("<MsgID>4<"), 1)
		},
		"session": func(m *Meta, raw []byte) []byte {
			return bytes.Replace(raw, []byte("<SessionID>4D<"), []byte("<SessionID>4E<"), 1)
		},
		"device": func(m *Meta, raw []byte) []byte {
			return bytes.Replace(raw, []byte("{C0FFEE00-1234-5678-9ABC-DEF012345678}"), []byte("{C0FFEE00-1234-5678-9ABC-DEF012345679}"), 1)
		},
		"command before": func(m *Meta, raw []byte) []byte {
			return bytes.Replace(raw, []byte("<Sequence>"), []byte("<Get><CmdID>2</CmdID></Get><Sequence>"), 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := testMeta
			in := mutate(&m, bytes.Clone(raw))
			if bytes.Equal(in, raw) && m == testMeta {
				t.Fatal("mutation changed nothing")
			}
			for i, id := range ids(m, in) {
				if id == base[i].EventID {
					t.Fatalf("event %d kept its id after the %s changed", i, name)
				}
			}
		})
	}
	// The device's events of a message never share an id with the
	// commands of the same message.
	msg, err := syncml.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var b Builder
	dev, _ := b.Build(msg, testMeta, nil)
	for i := range dev {
		if _, dup := seen[dev[i].EventID]; dup {
			t.Fatalf("device event %s has a command event's id", dev[i].EventID)
		}
	}
}

// A server's message without SyncHdr/Target names no device: no event.
func TestBuildCommandsWithoutDevice(t *testing.T) {
	raw, err := os.ReadFile("testdata/commands/msi_exec_cdata.xml")
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.Replace(raw, []byte("<LocURI>{C0FFEE00-1234-5678-9ABC-DEF012345678}</LocURI>"), []byte("<LocURI> </LocURI>"), 1)
	msg, err := syncml.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var b Builder
	evs, st := b.BuildCommands(msg, testMeta, nil)
	if len(evs) != 0 || st.Events != 0 || st.Skipped != len(msg.Commands) {
		t.Fatalf("%d events, stats %+v; want none, %d skipped", len(evs), st, len(msg.Commands))
	}
}

// TestBuildCommandsReusesBuilder: a Builder alternating between device and
// server messages carries nothing from one into the next, and the events of
// BuildCommands survive the builds after it.
func TestBuildCommandsReusesBuilder(t *testing.T) {
	var b Builder
	var kept [][]event.Event
	var want []string
	files := commandFiles(t)
	devices, _ := filepath.Glob("testdata/*.xml")
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := syncml.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		evs, _ := b.BuildCommands(msg, testMeta, nil)
		fresh, _ := buildCommandsFile(t, f)
		var got, w bytes.Buffer
		for j := range evs {
			got.Write(eventjson.AppendJSON(nil, &evs[j]))
			w.Write(eventjson.AppendJSON(nil, &fresh[j]))
		}
		if got.String() != w.String() {
			t.Fatalf("%s: reused builder\n%s\nfresh\n%s", f, got.String(), w.String())
		}
		kept, want = append(kept, evs), append(want, got.String())
		// A device message between, built transiently.
		draw, _ := os.ReadFile(devices[i%len(devices)])
		dmsg, err := syncml.Parse(draw)
		if err != nil {
			t.Fatal(err)
		}
		b.BuildTransient(dmsg, testMeta, nil)
	}
	for i, evs := range kept {
		var got bytes.Buffer
		for j := range evs {
			got.Write(eventjson.AppendJSON(nil, &evs[j]))
		}
		if got.String() != want[i] {
			t.Fatalf("%s: events changed by later builds", files[i])
		}
	}
}
