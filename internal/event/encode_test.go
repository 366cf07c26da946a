package event

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func sampleEvent() Event {
	return Event{
		EventID:       "0123456789abcdef0123456789abcdef",
		SchemaVersion: 1,
		ReceivedAt:    time.Date(2026, 11, 23, 5, 22, 6, 120_000_000, time.UTC),
		Tenant:        "contoso",
		DeviceID:      "DESKTOP-1",
		SessionID:     "1A",
		MsgID:         "2",
		Kind:          KindAlert,
		CmdID:         4,
		Scope:         ScopeDevice,
		CSP:           CSPMSI,
		TargetID:      "AF9257BA-6BBD-4624-AA9B-0182D50292C3",
		Node:          "DownloadInstall",
		LocURI:        "./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/{AF9257BA-6BBD-4624-AA9B-0182D50292C3}/DownloadInstall",
		Code:          -2147023293,
		CodeHex:       "0x80070643",
		Win32Code:     1603,
		CodeSpace:     "hresult",
		CodeName:      "ERROR_INSTALL_FAILURE",
		Outcome:       "failed",
		Category:      "prerequisite",
		AlertType:     InstallAlertType,
		Mark:          "critical",
		OriginalError: "0x86000002",
		GenericAlert:  "1",
		Product:       &Product{Name: "Orca <x> & \"y\"", Version: "5.0"},
	}
}

// TestAppendJSONDecodes checks the contract that matters to consumers: what
// AppendJSON writes, encoding/json reads back as the same event.
func TestAppendJSONDecodes(t *testing.T) {
	weird := sampleEvent()
	weird.Text = "tab\there \"q\" back\\slash \x01 \u2028 \u2029 <html> é \xff end"
	weird.Product = &Product{LastErrorDesc: "only this"}
	empty := Event{ReceivedAt: time.Unix(0, 0).UTC()}
	for name, e := range map[string]Event{"full": sampleEvent(), "weird": weird, "empty": empty} {
		t.Run(name, func(t *testing.T) {
			out := e.AppendJSON(nil)
			if !json.Valid(out) {
				t.Fatalf("invalid JSON: %s", out)
			}
			var got Event
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			want := e
			want.Text = strings.ToValidUTF8(want.Text, "\ufffd")
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v\njson %s", got, want, out)
			}
		})
	}
}

// TestAppendJSONMatchesEncodingJSON compares byte for byte with
// encoding/json, whose only difference is the fixed milliseconds of
// received_at.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	e := sampleEvent()
	e.ReceivedAt = time.Date(2026, 11, 23, 5, 22, 6, 123_000_000, time.UTC)
	e.Text = "a\x00b\x1f<>&\u2028\xfe"
	want, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.AppendJSON(nil); !bytes.Equal(got, want) {
		t.Fatalf("AppendJSON:\n%s\nencoding/json:\n%s", got, want)
	}
}

func TestReceivedAtMilliseconds(t *testing.T) {
	e := Event{ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))}
	out := string(e.AppendJSON(nil))
	if !strings.Contains(out, `"received_at":"2026-01-02T02:04:05.000Z"`) {
		t.Fatalf("received_at not UTC with milliseconds: %s", out)
	}
}

func TestAppendSubject(t *testing.T) {
	tests := []struct {
		tenant, csp, outcome, want string
	}{
		{"contoso", CSPOffice, "failed", "cspwatch.install.contoso.office.failed"},
		{"contoso", CSPMSI, "in_progress", "cspwatch.install.contoso.msi.in_progress"},
		{"contoso", "", "failed", "cspwatch.install.contoso.none.failed"},
		{"a.b *>c", CSPMSI, "succeeded", "cspwatch.install.a_b___c.msi.succeeded"},
		{"", CSPMSI, "", "cspwatch.install._.msi._"},
		{"tenant-é", CSPMSI, "x", "cspwatch.install.tenant-__.msi.x"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			e := Event{Tenant: tc.tenant, CSP: tc.csp, Outcome: tc.outcome}
			if got := string(e.AppendSubject(nil)); got != tc.want {
				t.Fatalf("AppendSubject = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	good := sampleEvent()
	valid := good.AppendJSON(nil)
	if e, err := Decode(valid); err != nil || e.EventID != good.EventID || !e.ReceivedAt.Equal(good.ReceivedAt) {
		t.Fatalf("Decode(valid) = %+v, %v", e, err)
	}
	bad := map[string]string{
		"not json":       `{"event_id":`,
		"wrong version":  strings.Replace(string(valid), `"schema_version":1`, `"schema_version":2`, 1),
		"no event_id":    strings.Replace(string(valid), `"event_id":"0123456789abcdef0123456789abcdef"`, `"event_id":""`, 1),
		"no tenant":      strings.Replace(string(valid), `"tenant":"contoso"`, `"tenant":""`, 1),
		"no device":      strings.Replace(string(valid), `"device_id":"DESKTOP-1"`, `"device_id":""`, 1),
		"bad kind":       strings.Replace(string(valid), `"kind":"alert"`, `"kind":"other"`, 1),
		"no received_at": strings.Replace(string(valid), `"received_at":"2026-11-23T05:22:06.120Z",`, ``, 1),
		"array":          `[]`,
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			if in == string(valid) {
				t.Fatal("test input was not altered")
			}
			if _, err := Decode([]byte(in)); err == nil {
				t.Fatal("Decode accepted an invalid event")
			}
		})
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	e := sampleEvent()
	buf := e.AppendJSON(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
}

func BenchmarkEncodingJSONMarshal(b *testing.B) {
	e := sampleEvent()
	buf, _ := json.Marshal(&e)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = json.Marshal(&e)
	}
}

// TestAppendStringEveryByte puts every byte value at every position of
// strings of up to two eight-byte blocks (which appendString checks at once)
// and a tail, and compares with encoding/json.
func TestAppendStringEveryByte(t *testing.T) {
	room := make([]byte, 0, 128) // takes the fast path, where nil must grow
	for n := 1; n <= 33; n++ {
		base := []byte("abcdefghijklmnopqrstuvwxyz0123456")[:n]
		for pos := range base {
			for c := 0; c < 256; c++ {
				s := append([]byte(nil), base...)
				s[pos] = byte(c)
				want, err := json.Marshal(string(s))
				if err != nil {
					t.Fatal(err)
				}
				if got := appendString(nil, string(s)); !bytes.Equal(got, want) {
					t.Fatalf("byte %#x at %d of %d: appendString %s, encoding/json %s", c, pos, n, got, want)
				}
				if got := appendString(room, string(s)); !bytes.Equal(got, want) {
					t.Fatalf("byte %#x at %d of %d, dst with room: appendString %s, encoding/json %s", c, pos, n, got, want)
				}
			}
		}
	}
}

// TestAppendTime compares the hand-written received_at with AppendFormat,
// also for years it leaves to AppendFormat.
func TestAppendTime(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("x", -9*3600-1800)}
	times := []time.Time{
		time.Date(2026, 11, 23, 5, 22, 6, 123_456_789, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 1_000_000, time.UTC),
		time.Date(999, 7, 8, 9, 10, 11, 7_000_000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
	}
	for _, tm := range times {
		for _, z := range zones {
			tm := tm.In(z)
			want := tm.UTC().AppendFormat(nil, TimeLayout)
			if got := appendTime(nil, tm); !bytes.Equal(got, want) {
				t.Errorf("%v: appendTime %s, AppendFormat %s", tm, got, want)
			}
		}
	}
}

// TestNeedsEscapeWords compares the eight-byte test with the byte table on
// words drawn mostly from the bytes around its thresholds, several unsafe
// bytes at once included.
func TestNeedsEscapeWords(t *testing.T) {
	edge := []byte{0, 1, 0x1f, 0x20, 0x21, '"', '#', '%', '&', '\'', ';', '<', '=', '>', '?', '[', '\\', ']', 0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff, 'a', 'A'}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		var w [8]byte
		for i := range w {
			if r.IntN(4) == 0 {
				w[i] = byte(r.IntN(256))
			} else {
				w[i] = edge[r.IntN(len(edge))]
			}
		}
		want := false
		for _, c := range w {
			want = want || c >= utf8.RuneSelf || !safe[c]
		}
		if got := needsEscape(binary.LittleEndian.Uint64(w[:])); got != want {
			t.Fatalf("needsEscape(%q) = %v, want %v", w, got, want)
		}
	}
}
