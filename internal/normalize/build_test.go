package normalize

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

var testMeta = Meta{
	Tenant:     "contoso",
	ReceivedAt: time.Date(2026, 11, 23, 5, 22, 6, 123_456_789, time.UTC),
}

// parseFile scans the SyncML message in path.
func parseFile(t testing.TB, path string) *syncml.Message {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := syncml.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return msg
}

func buildFile(t testing.TB, path string) ([]event.Event, Stats) {
	t.Helper()
	var b Builder
	return b.Build(parseFile(t, path), testMeta, nil)
}

// summary is the part of an event the rules of DESIGN.md decide, one line
// per event, so the rule table below reads like the rules.
func summary(e *event.Event) string {
	s := fmt.Sprintf("%s %s %s %s %s %d %s %s", e.Kind, e.Scope, csp(e.CSP), orDash(e.TargetID), orDash(e.Node), e.Code, orDash(e.CodeSpace), e.Outcome)
	if e.Category != "" && e.Outcome != "failed" {
		s += " " + e.Category
	}
	if e.Win32Code != 0 {
		s += fmt.Sprintf(" win32=%d", e.Win32Code)
	}
	if e.OriginalError != "" {
		s += " orig=" + e.OriginalError
	}
	if e.Text != "" {
		s += fmt.Sprintf(" text=%q", e.Text)
	}
	if e.Product != nil {
		s += fmt.Sprintf(" product=%q/%q", e.Product.Name, e.Product.Version)
	}
	return s
}

func csp(s string) string {
	switch s {
	case event.CSPOffice:
		return "office"
	case event.CSPMSI:
		return "msi"
	}
	return "-"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// TestBuildRules checks, file by file, which items become which events.
func TestBuildRules(t *testing.T) {
	const (
		orca = "6F7CB29F-1319-4816-B345-0856916EB801"
		vpn  = "1803A630-3C38-4D2B-9B9A-0CB37243539C"
		af   = "AF9257BA-6BBD-4624-AA9B-0182D50292C3"
	)
	tests := []struct {
		file    string
		want    []string
		skipped int
	}{
		{"msi_alert_seed.xml", []string{
			"alert device msi " + af + " DownloadInstall 0 win32 succeeded",
		}, 0},
		{"utf16le.xml", []string{
			"alert device msi " + af + " DownloadInstall 0 win32 succeeded",
		}, 0},
		{"msi_alert_failures.xml", []string{
			"alert user msi " + af + " DownloadInstall -2147023293 hresult failed win32=1603",
			"alert device msi " + orca + " DownloadInstall -2147023293 hresult failed win32=1603 orig=0x80070643",
			"alert device msi " + vpn + " DownloadInstall 3010 win32 succeeded reboot_required",
			"alert device msi 1803A630-3C38-4D2B-9B9A-0CB37243539D DownloadInstall 1618 win32 failed",
		}, 0},
		{"msi_results.xml", []string{
			"result device msi " + orca + ` Status 60 msi_status failed product="Orca"/"5.0.10011.16384"`,
			"result device msi " + orca + ` LastError -2147023293 hresult failed win32=1603 product="Orca"/"5.0.10011.16384"`,
			"inventory device msi " + vpn + ` - 0 - unknown product="Contoso VPN & Tunnel"/"2.4.1"`,
			"inventory device msi A1B2C3D4-0000-1111-2222-333344445555 UpgradeCode 0 - unknown text=\"{" + vpn + "}\" product=\"\"/\"\"",
		}, 3},
		{"office.xml", []string{
			"status device office 0AA79349-F334-4859-96E8-B4AB43E9FEA0 Install 202 omadm in_progress",
			"result device office 0AA79349-F334-4859-96E8-B4AB43E9FEA0 Status 997 office_status in_progress",
			"result user office E24B23D8-94A8-4997-9E6E-8FF25025845B Status 17002 office_status failed",
			"result user office E24B23D8-94A8-4997-9E6E-8FF25025845B FinalStatus 60 office_final failed",
			"result device office 1B2C3D4E-0000-4000-8000-000000000001 Status -2147467259 office_status failed",
			"result device office 1B2C3D4E-0000-4000-8000-000000000002 FinalStatus 70 office_final succeeded",
			`result device office - CurrentStatus 0 - unknown text="<Status>Installing</Status>"`,
		}, 1},
		{"statuses.xml", []string{
			"status device msi " + orca + " DownloadInstall 200 omadm succeeded",
			"status device msi " + orca + " DownloadInstall 202 omadm in_progress",
			"status device - - - 404 omadm failed orig=0x86000002",
			"status user msi " + vpn + " - 500 omadm failed orig=0x80070643",
		}, 3},
		{"session_start.xml", nil, 4},
		{"quirks.xml", []string{
			"alert device msi " + orca + ` DownloadInstall 1603 win32 failed product="Orca <Tools> & more"/""`,
			"result device msi " + orca + ` Status 70 msi_status succeeded product="Orca <Tools> & more"/""`,
			"result device msi " + orca + ` LastError 0 win32 succeeded product="Orca <Tools> & more"/""`,
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			events, st := buildFile(t, filepath.Join("testdata", tc.file))
			var got []string
			for i := range events {
				got = append(got, summary(&events[i]))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if st.Events != len(events) {
				t.Errorf("Stats.Events = %d, built %d", st.Events, len(events))
			}
			if st.Skipped != tc.skipped {
				t.Errorf("Stats.Skipped = %d, want %d", st.Skipped, tc.skipped)
			}
		})
	}
}

// TestGolden pins the full JSON of every testdata message; run with -update
// to rewrite the golden files after an intended change, and review the diff.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.xml")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	// Device messages shaped after real traffic (shared/realworld).
	real, _ := filepath.Glob("testdata/realworld/*.xml")
	if len(real) != 4 {
		t.Fatalf("testdata/realworld holds %d messages, want 4", len(real))
	}
	for _, f := range append(files, real...) {
		t.Run(strings.TrimPrefix(f, "testdata/"), func(t *testing.T) {
			events, _ := buildFile(t, f)
			checkGolden(t, f, events)
		})
	}
}

// TestRefsKeptAsSent: the CmdID, MsgRef and CmdRef of a device's answers
// are kept as sent (cmd_id_raw, msg_ref, cmd_ref_raw), beside cmd_id and
// cmd_ref, which are 0 when the value is not a number: a server's UUID
// CmdIDs, echoed in CmdRef, still tie the answer to the command.
func TestRefsKeptAsSent(t *testing.T) {
	type refs struct {
		kind, cmdIDRaw, msgRef, cmdRefRaw string
		cmdID, cmdRef                     int64
	}
	tests := []struct {
		file string
		want []refs
	}{
		{"realworld/uuid_cmdref.xml", []refs{
			{"status", "2", "1", "5d0e1f7a-3c2b-4a19-8e6d-2f4b7c9a0e13", 2, 0},
			{"status", "3", "1", "a81f44c2-9b0e-4d5f-b7a3-6c1e2d3f4a5b", 3, 0},
			{"status", "4", "1", "c7e2b9d4-1f3a-4e8c-9d0b-7a6f5e4d3c2b", 4, 0},
		}},
		{"realworld/get_status_404_originalerror.xml", []refs{
			{"status", "2", "2", "7", 2, 7},
		}},
		{"msi_alert_seed.xml", []refs{
			{"alert", "4", "", "", 4, 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			events, _ := buildFile(t, filepath.Join("testdata", tc.file))
			var got []refs
			for _, e := range events {
				got = append(got, refs{e.Kind, e.CmdIDRaw, e.MsgRef, e.CmdRefRaw, e.CmdID, e.CmdRef})
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("refs\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

func TestEventIDs(t *testing.T) {
	a, _ := buildFile(t, "testdata/msi_alert_failures.xml")
	b, _ := buildFile(t, "testdata/msi_alert_failures.xml")
	seen := map[string]bool{}
	for i := range a {
		if a[i].EventID != b[i].EventID {
			t.Fatalf("event %d: id not deterministic: %s vs %s", i, a[i].EventID, b[i].EventID)
		}
		if len(a[i].EventID) != 32 {
			t.Fatalf("event id %q is not 128-bit hex", a[i].EventID)
		}
		if seen[a[i].EventID] {
			t.Fatalf("duplicate event id %s", a[i].EventID)
		}
		seen[a[i].EventID] = true
	}
	// Another tenant, or another message of the session, gives other ids.
	raw, _ := os.ReadFile("testdata/msi_alert_failures.xml")
	for name, mutate := range map[string]func(m *Meta, raw []byte) []byte{
		"tenant": func(m *Meta, raw []byte) []byte { m.Tenant = "fabrikam"; return raw },
		"message": func(m *Meta, raw []byte) []byte {
			return bytes.Replace(raw, []byte("<MsgID>3<"), []byte("<MsgID>4<"), 1)
		},
		"device": func(m *Meta, raw []byte) []byte {
			return bytes.Replace(raw, []byte("DEVICE-0042"), []byte("DEVICE-0043"), 1)
		},
		"session": func(m *Meta, raw []byte) []byte {
			return bytes.Replace(raw, []byte("<SessionID>20<"), []byte("<SessionID>21<"), 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := testMeta
			in := mutate(&m, bytes.Clone(raw))
			msg, err := syncml.Parse(in)
			if err != nil {
				t.Fatal(err)
			}
			var bl Builder
			evs, _ := bl.Build(msg, m, nil)
			if len(evs) != len(a) {
				t.Fatalf("%d events, want %d", len(evs), len(a))
			}
			for i := range evs {
				if seen[evs[i].EventID] {
					t.Fatalf("event %d kept its id after the %s changed", i, name)
				}
			}
		})
	}
}

// TestBuildReusesBuilder checks that a Builder carries nothing from one
// message into the next.
func TestBuildReusesBuilder(t *testing.T) {
	var b Builder
	files, _ := filepath.Glob("testdata/*.xml")
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		msg, err := syncml.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		b.Build(msg, testMeta, nil)
	}
	fresh, _ := buildFile(t, "testdata/msi_results.xml")
	raw, _ := os.ReadFile("testdata/msi_results.xml")
	msg, _ := syncml.Parse(raw)
	reused, _ := b.Build(msg, testMeta, nil)
	if len(fresh) != len(reused) {
		t.Fatalf("reused builder: %d events, fresh: %d", len(reused), len(fresh))
	}
	for i := range fresh {
		if summary(&fresh[i]) != summary(&reused[i]) || fresh[i].EventID != reused[i].EventID {
			t.Fatalf("event %d differs:\n%s\n%s", i, summary(&fresh[i]), summary(&reused[i]))
		}
	}
}

func TestAppendHex(t *testing.T) {
	src := make([]byte, 0, 256)
	for c := range 256 {
		src = append(src, byte(255-c))
	}
	for n := 0; n <= len(src); n++ {
		if got, want := appendHex([]byte("x"), src[:n]), hex.AppendEncode([]byte("x"), src[:n]); !bytes.Equal(got, want) {
			t.Fatalf("appendHex of %d bytes = %s, want %s", n, got, want)
		}
	}
}
