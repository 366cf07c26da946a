package eventjson

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
	"unsafe"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/event/eventtest"
)

// TestAppendJSONDecodes checks the contract that matters to consumers: what
// AppendJSON writes, encoding/json reads back as the same event.
func TestAppendJSONDecodes(t *testing.T) {
	weird := eventtest.Sample()
	weird.Text = "tab\there \"q\" back\\slash \x01 \u2028 \u2029 <html> é \xff end"
	weird.Product = &event.Product{LastErrorDesc: "only this"}
	empty := event.Event{ReceivedAt: time.Unix(0, 0).UTC()}
	for name, e := range map[string]event.Event{"full": eventtest.Sample(), "weird": weird, "empty": empty} {
		t.Run(name, func(t *testing.T) {
			out := AppendJSON(nil, &e)
			if !json.Valid(out) {
				t.Fatalf("invalid JSON: %s", out)
			}
			var got event.Event
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
	e := eventtest.Sample()
	e.ReceivedAt = time.Date(2026, 11, 23, 5, 22, 6, 123_000_000, time.UTC)
	e.Text = "a\x00b\x1f<>&\u2028\xfe"
	want, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	if got := AppendJSON(nil, &e); !bytes.Equal(got, want) {
		t.Fatalf("AppendJSON:\n%s\nencoding/json:\n%s", got, want)
	}
}

func TestReceivedAtMilliseconds(t *testing.T) {
	e := event.Event{ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))}
	out := string(AppendJSON(nil, &e))
	if !strings.Contains(out, `"received_at":"2026-01-02T02:04:05.000Z"`) {
		t.Fatalf("received_at not UTC with milliseconds: %s", out)
	}
}

func TestDecode(t *testing.T) {
	good := eventtest.Sample()
	valid := AppendJSON(nil, &good)
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
	e := eventtest.Sample()
	buf := AppendJSON(nil, &e)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], &e)
	}
}

func BenchmarkEncodingJSONMarshal(b *testing.B) {
	e := eventtest.Sample()
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
			want := tm.UTC().AppendFormat(nil, event.TimeLayout)
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

// TestEncoderSharedFields: the Encoder rewrites the shared fields whenever
// one of them changes, also when a string keeps its address but not its
// bytes, as the strings of normalize.Builder.BuildTransient do.
func TestEncoderSharedFields(t *testing.T) {
	device := []byte("DEVICE-1")
	name := []byte("Orca")
	base := eventtest.Sample()
	base.DeviceID = unsafe.String(&device[0], len(device))
	base.Product = &event.Product{Name: unsafe.String(&name[0], len(name)), Version: "5.0"}
	changes := []func(e *event.Event){
		func(e *event.Event) {},
		func(e *event.Event) { e.EventID = "other" },
		func(e *event.Event) { copy(device, "DEVICE-2") },
		func(e *event.Event) { e.Tenant = "fabrikam" },
		func(e *event.Event) { e.SessionID = "1B" },
		func(e *event.Event) { e.MsgID = "3" },
		func(e *event.Event) { e.SchemaVersion = 2 },
		func(e *event.Event) { e.ReceivedAt = e.ReceivedAt.Add(time.Millisecond) },
		func(e *event.Event) { e.ReceivedAt = e.ReceivedAt.In(time.FixedZone("x", 3600)) },
		func(e *event.Event) { e.ReceivedAt = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
		// The boundaries between the shared strings move, their concatenation stays.
		func(e *event.Event) { e.Tenant, e.DeviceID = "contosoD", "EVICE-2" },
		func(e *event.Event) { e.SessionID, e.MsgID = "1", "B3" },
		func(e *event.Event) { e.Tenant = "<&>\u2028" },
		func(e *event.Event) { copy(name, "Orcb") },
		func(e *event.Event) { e.Product = &event.Product{Name: e.Product.Name, Version: e.Product.Version} },
		func(e *event.Event) { e.Product.Version = "5.0 & <later>" },
		func(e *event.Event) { e.Product.Name, e.Product.Version = "Orcb5", ".0 & <later>" },
		func(e *event.Event) { e.Product.Publisher = "Microsoft" },
		func(e *event.Event) { e.Product.InstallDate = "20261122" },
		func(e *event.Event) { e.Product.InstallPath = `C:\Program Files\Orca` },
		func(e *event.Event) { e.Product.LastErrorDesc = "none" },
		// Each field once more, keeping every length.
		func(e *event.Event) { e.Product.Name = "Orcc5" },
		func(e *event.Event) { e.Product.Version = ".1 & <later>" },
		func(e *event.Event) { e.Product.Publisher = "Microsofu" },
		func(e *event.Event) { e.Product.InstallDate = "20261123" },
		func(e *event.Event) { e.Product.InstallPath = `C:\Program Files\Orcb` },
		func(e *event.Event) { e.Product.LastErrorDesc = "nonf" },
		func(e *event.Event) { e.Tenant = "fabrikan" },
		func(e *event.Event) { e.SessionID = "1C" },
		func(e *event.Event) { e.MsgID = "4" },
		func(e *event.Event) { e.Product = nil },
		func(e *event.Event) { e.Product = &event.Product{} },
		func(e *event.Event) { e.Product = &event.Product{LastErrorDesc: "none"} },
		func(e *event.Event) { *e = event.Event{} },
	}
	var enc Encoder
	e := base
	for i, change := range changes {
		change(&e)
		for range 2 {
			got := enc.AppendJSON([]byte("prefix"), &e)
			want := AppendJSON([]byte("prefix"), &e)
			if !bytes.Equal(got, want) {
				t.Fatalf("change %d: Encoder wrote\n%s\nAppendJSON\n%s", i, got, want)
			}
		}
	}
}
