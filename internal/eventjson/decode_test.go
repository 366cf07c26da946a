package eventjson

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/event/eventtest"
)

// decodeStd is the reference: encoding/json plus the contract's checks, as
// Decode was before it had its own parser.
func decodeStd(data []byte) (event.Event, error) {
	var e event.Event
	if err := json.Unmarshal(data, &e); err != nil {
		return event.Event{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := validate(&e); err != nil {
		return event.Event{}, err
	}
	e.ReceivedAt = e.ReceivedAt.UTC()
	return e, nil
}

// checkAgrees fails unless Decode and decodeStd agree on data: both reject
// it, or both accept it with equal events. Where encoding/json parses the
// input and only the contract's checks reject it, the errors are the same.
func checkAgrees(t *testing.T, data []byte) (event.Event, error) {
	t.Helper()
	want, wantErr := decodeStd(data)
	got, err := Decode(data)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("input %q:\nDecode error %v\nencoding/json error %v", data, err, wantErr)
	}
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("input %q: error %v does not wrap ErrInvalid", data, err)
		}
		if !reflect.DeepEqual(got, event.Event{}) {
			t.Fatalf("input %q: Decode returned %+v with its error", data, got)
		}
		var e event.Event
		if json.Unmarshal(data, &e) == nil && err.Error() != wantErr.Error() {
			t.Fatalf("input %q: validation error %q, encoding/json path says %q", data, err, wantErr)
		}
		return got, err
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("input %q:\nDecode        %+v (product %+v)\nencoding/json %+v (product %+v)", data, got, got.Product, want, want.Product)
	}
	return got, nil
}

// goldens are the goldens of package normalize: every shape of event its
// rules give, as AppendJSON writes them, device and command events.
var goldens = []string{"../normalize/testdata/*.golden.jsonl", "../normalize/testdata/*/*.golden.jsonl"}

// goldenEvents returns every line of the event goldens.
func goldenEvents(t testing.TB) [][]byte {
	t.Helper()
	var files []string
	for _, g := range goldens {
		more, err := filepath.Glob(g)
		if err != nil || len(more) == 0 {
			t.Fatalf("no goldens %s: %v", g, err)
		}
		files = append(files, more...)
	}
	var lines [][]byte
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) > 0 {
				lines = append(lines, bytes.Clone(sc.Bytes()))
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return lines
}

func TestDecodeGoldensMatchEncodingJSON(t *testing.T) {
	lines := goldenEvents(t)
	for i, line := range lines {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if _, err := checkAgrees(t, line); err != nil {
				t.Fatalf("golden does not decode: %v", err)
			}
		})
	}
}

// minimal is the smallest valid event; the crafted cases build on it.
const minimal = `"event_id":"e1","schema_version":1,"received_at":"2026-11-23T05:22:06.123Z","tenant":"t","device_id":"d","kind":"alert"`

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	full := eventtest.Sample()
	full.Text = "tab\there \"q\" back\\slash \x01 \u2028 <html> é \xff end"
	fullJSON := string(AppendJSON(nil, &full))
	obj := func(extra string) string { return "{" + minimal + extra + "}" }
	deep := func(n int) string {
		return obj(`,"x":` + strings.Repeat("[", n) + strings.Repeat("]", n))
	}
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"minimal", obj(""), true},
		{"full", fullJSON, true},
		{"reordered", `{"kind":"status","device_id":"d","tenant":"t","received_at":"2026-11-23T05:22:06.123Z","schema_version":1,"event_id":"e1","code":-5}`, true},
		{"whitespace", " \t\r\n{ \"event_id\" : \"e1\" ,\n\"schema_version\"\t:\t1 , \"received_at\":\"2026-11-23T05:22:06Z\",\"tenant\":\"t\",\"device_id\":\"d\",\"kind\":\"alert\" }\n ", true},
		{"unknown fields", obj(`,"future":{"a":[1,2.5e-3,true,false,null,"x\"y",{"b":{}}],"c":-0},"more":[],"n":1E+10`), true},
		{"escapes", obj(`,"text":"\"\\\/\b\f\n\r\t\u0000\u001f\u00e9\u20AC"`), true},
		{"surrogate pair", obj(`,"text":"\ud83d\ude00 \uD834\uDD1E"`), true},
		{"lone high surrogate", obj(`,"text":"a\ud800b"`), true},
		{"lone low surrogate", obj(`,"text":"a\udc00b"`), true},
		{"high surrogate then escape", obj(`,"text":"\ud800\u0041"`), true},
		{"two high surrogates then low", obj(`,"text":"\ud800\ud800\udc00"`), true},
		{"surrogate at end", obj(`,"text":"\ud83d"`), true},
		{"invalid utf-8", obj(",\"text\":\"a\xffb\xc3\x28c\xed\xa0\x80\""), true},
		{"valid non-ascii", obj(`,"tenant":"contoso-é","text":"日本語"`), true},
		{"escaped key", obj(`,"\u0074ext":"t","co\u0064e":7`), true},
		{"upper-case keys", `{"EVENT_ID":"e1","Schema_Version":1,"RECEIVED_AT":"2026-11-23T05:22:06Z","Tenant":"t","DEVICE_id":"d","KIND":"alert","Product":{"NAME":"n"}}`, true},
		{"kelvin sign key", obj(`,"\u212aind":"status"`), true},
		{"long s key", obj(`,"text":"a","ſcope":"user","code_ſpace":"win32"`), true},
		{"non-folding unicode key", obj(`,"tëxt":"a"`), true},
		{"exact and folded duplicate", obj(`,"TEXT":"a","text":"b","Text":"c"`), true},
		{"duplicate keys last wins", obj(`,"tenant":"t2","code":1,"code":2,"text":"x","text":"y"`), true},
		{"nulls", obj(`,"text":null,"code":null,"product":null,"received_at":null,"schema_version":null,"cmd_id":null`), true},
		{"null after value keeps value", obj(`,"text":"kept","text":null,"code":5,"code":null`), true},
		{"product", obj(`,"product":{"name":"Orca \u003cx\u003e","version":"5.0","publisher":"p","install_date":"20261123","install_path":"C:\\Program Files","last_error_desc":"none"}`), true},
		{"empty product", obj(`,"product":{}`), true},
		{"product merged", obj(`,"product":{"name":"a","version":"1"},"product":{"version":"2","publisher":"p"}`), true},
		{"product nulled", obj(`,"product":{"name":"a","install_path":"x"},"product":null`), true},
		{"product nulled then new", obj(`,"product":{"name":"a","install_path":"x"},"product":null,"product":{"version":"v"}`), true},
		{"product unknown and null fields", obj(`,"product":{"name":null,"x":{"y":[1]},"version":"v"}`), true},
		{"product field folded", obj(`,"product":{"Install_Path":"p","LAST_ERROR_DESC":"d"}`), true},
		{"command", obj(`,"kind":"command","outcome":"requested","cmd_id_raw":"5d0e1f7a-3c2b","msg_ref":"1","cmd_ref_raw":"x","command":"Exec","payload_error":"doctype"`), true},
		{"msi_job", obj(`,"msi_job":{"id":"{AF92}","product_version":"1.0","content_urls":["http://a/b.msi","\\\\srv\\b.msi"],"file_name":"b.msi","file_hash":"45","command_line":"/quiet","timeout_min":5,"retry_count":3,"retry_interval_min":5}`), true},
		{"office_config", obj(`,"office_config":{"product_ids":["O365ProPlusRetail","VisioProRetail"],"channel":"Current","version":"16.0","edition":"64","languages":["en-us","MatchOS"],"remove":true}`), true},
		{"office_config remove false", obj(`,"office_config":{"remove":true,"remove":false}`), true},
		{"empty objects", obj(`,"msi_job":{},"office_config":{}`), true},
		{"empty arrays", obj(`,"msi_job":{"content_urls":[]},"office_config":{"product_ids":[ ],"languages":[]}`), true},
		{"null arrays", obj(`,"msi_job":{"content_urls":["a"],"content_urls":null},"office_config":{"languages":null}`), true},
		{"null array elements", obj(`,"msi_job":{"content_urls":[null,"a",null]}`), true},
		{"array reused", obj(`,"msi_job":{"content_urls":["a","b","c"],"content_urls":[null,"x"]}`), true},
		{"array truncated then exposed", obj(`,"msi_job":{"content_urls":["a","b"],"content_urls":["c"],"content_urls":["d",null]}`), true},
		{"array emptied then grown", obj(`,"msi_job":{"content_urls":["a","b"],"content_urls":[],"content_urls":[null,null,"z"]}`), true},
		{"array grown across capacity", obj(`,"office_config":{"languages":["a"],"languages":["b",null,"c",null,"d"]}`), true},
		{"objects merged", obj(`,"msi_job":{"id":"a","timeout_min":1},"msi_job":{"timeout_min":2,"file_name":"f"}`), true},
		{"objects nulled then new", obj(`,"msi_job":{"id":"a"},"msi_job":null,"msi_job":{"retry_count":1},"office_config":{"channel":"c"},"office_config":null`), true},
		{"object fields folded", obj(`,"MSI_Job":{"ID":"a","Content_URLs":["u"]},"Office_Config":{"REMOVE":true,"ſhannel":"x","channel":"y"}`), true},
		{"object unknown and null fields", obj(`,"msi_job":{"x":[{"y":1}],"id":null,"timeout_min":null},"office_config":{"remove":null,"z":true}`), true},
		{"escaped array strings", obj(`,"office_config":{"product_ids":["a\u0062","\ud800x","\u00e9\n"]}`), true},
		{"msi_job as string", obj(`,"msi_job":"x"`), false},
		{"msi_job as array", obj(`,"msi_job":[]`), false},
		{"office_config as bool", obj(`,"office_config":true`), false},
		{"array as string", obj(`,"msi_job":{"content_urls":"u"}`), false},
		{"array as object", obj(`,"office_config":{"languages":{}}`), false},
		{"array of numbers", obj(`,"msi_job":{"content_urls":[1]}`), false},
		{"array of arrays", obj(`,"msi_job":{"content_urls":[["a"]]}`), false},
		{"array of bools", obj(`,"office_config":{"product_ids":["a",true]}`), false},
		{"array unterminated", obj(`,"msi_job":{"content_urls":["a"`), false},
		{"array trailing comma", obj(`,"msi_job":{"content_urls":["a",]}`), false},
		{"array missing comma", obj(`,"msi_job":{"content_urls":["a" "b"]}`), false},
		{"bool as string", obj(`,"office_config":{"remove":"true"}`), false},
		{"bool as number", obj(`,"office_config":{"remove":1}`), false},
		{"bool misspelled", obj(`,"office_config":{"remove":tru}`), false},
		{"object int as string", obj(`,"msi_job":{"retry_count":"3"}`), false},
		{"object int fraction", obj(`,"msi_job":{"timeout_min":1.5}`), false},
		{"object string as number", obj(`,"msi_job":{"file_hash":1}`), false},
		{"object string as bool", obj(`,"office_config":{"edition":false}`), false},
		{"command kind", obj(`,"kind":"command"`), true},
		{"received_at offset", obj(`,"received_at":"2026-11-23T07:22:06.5+02:00"`), true},
		{"received_at lower-case t", obj(`,"received_at":"2026-11-23t05:22:06z"`), false},
		{"received_at duplicate", obj(`,"received_at":"2027-01-01T00:00:00Z"`), true},
		{"received_at zero", obj(`,"received_at":"0001-01-01T00:00:00Z"`), false},
		{"received_at zero with offset", obj(`,"received_at":"0001-01-01T01:00:00+01:00"`), false},
		{"received_at escaped", obj(`,"received_at":"2026-11-23T05:22:06\u002e123Z"`), false},
		{"received_at not a time", obj(`,"received_at":"yesterday"`), false},
		{"received_at number", obj(`,"received_at":5`), false},
		{"received_at object", obj(`,"received_at":{}`), false},
		{"received_at array", obj(`,"received_at":["2026-11-23T05:22:06Z"]`), false},
		{"received_at true", obj(`,"received_at":true`), false},
		{"negative zero", obj(`,"code":-0,"cmd_id":0`), true},
		{"int64 bounds", obj(`,"code":-9223372036854775808,"win32_code":9223372036854775807`), true},
		{"int64 overflow", obj(`,"code":9223372036854775808`), false},
		{"int64 underflow", obj(`,"code":-9223372036854775809`), false},
		{"huge int", obj(`,"code":123456789012345678901234567890`), false},
		{"fraction", obj(`,"code":1.0`), false},
		{"exponent", obj(`,"code":1e2`), false},
		{"leading zero", obj(`,"code":01`), false},
		{"bare minus", obj(`,"code":-`), false},
		{"plus sign", obj(`,"code":+1`), false},
		{"int as string", obj(`,"code":"1"`), false},
		{"string as number", obj(`,"text":1`), false},
		{"string as bool", obj(`,"text":true`), false},
		{"string as object", obj(`,"text":{}`), false},
		{"string as array", obj(`,"text":[]`), false},
		{"int as bool", obj(`,"cmd_ref":false`), false},
		{"int as object", obj(`,"cmd_ref":{}`), false},
		{"product as string", obj(`,"product":"x"`), false},
		{"product as array", obj(`,"product":[]`), false},
		{"product field as number", obj(`,"product":{"name":1}`), false},
		{"schema_version 2", `{"event_id":"e1","schema_version":2,"received_at":"2026-11-23T05:22:06Z","tenant":"t","device_id":"d","kind":"alert"}`, false},
		{"schema_version missing", `{"event_id":"e1","received_at":"2026-11-23T05:22:06Z","tenant":"t","device_id":"d","kind":"alert"}`, false},
		{"schema_version fraction", obj(`,"schema_version":1.5`), false},
		{"no event_id", obj(`,"event_id":""`), false},
		{"no tenant", obj(`,"tenant":""`), false},
		{"no device_id", obj(`,"device_id":""`), false},
		{"bad kind", obj(`,"kind":"Alert"`), false},
		{"escaped kind", obj(`,"kind":"st\u0061tus"`), true},
		{"top-level null", `null`, false},
		{"top-level null with space", " null\n", false},
		{"top-level array", `[]`, false},
		{"top-level string", `"x"`, false},
		{"top-level number", `1`, false},
		{"empty", ``, false},
		{"only space", "  ", false},
		{"empty object", `{}`, false},
		{"truncated", obj("")[:40], false},
		{"truncated after key", `{"event_id"`, false},
		{"trailing comma", "{" + minimal + ",}", false},
		{"trailing garbage", obj("") + "x", false},
		{"two objects", obj("") + obj(""), false},
		{"missing colon", `{"event_id" "e1"}`, false},
		{"unquoted key", `{event_id:"e1"}`, false},
		{"single quotes", `{'event_id':'e1'}`, false},
		{"control character in string", obj(",\"text\":\"a\nb\""), false},
		{"bad escape", obj(`,"text":"\x"`), false},
		{"short unicode escape", obj(`,"text":"\u12"`), false},
		{"bad unicode escape", obj(`,"text":"\u12g4"`), false},
		{"unterminated string", `{"event_id":"e1`, false},
		{"invalid utf-8 outside strings", "{" + minimal + "\xff}", false},
		{"bad literal", obj(`,"x":nul`), false},
		{"bad literal true", obj(`,"x":tru`), false},
		{"bad unknown number", obj(`,"x":1.`), false},
		{"bad unknown exponent", obj(`,"x":1e`), false},
		{"bad unknown array", obj(`,"x":[1,]`), false},
		{"bad unknown object", obj(`,"x":{"a":1,}`), false},
		{"unknown object key not string", obj(`,"x":{1:2}`), false},
		{"null with garbage", obj(`,"text":nullx`), false},
		{"depth 10000", deep(9999), true},
		{"depth 10001", deep(10000), false},
		{"product at depth", obj(`,"product":{"x":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}`), true},
		{"product too deep", obj(`,"product":{"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkAgrees(t, []byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("accepted %v (error %v), want accepted %v", err == nil, err, tc.ok)
			}
		})
	}
}

// TestDecodeErrors checks the contract's messages, which operators see in
// the dead-letter log.
func TestDecodeErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"schema_version":2}`, "invalid event: schema_version 2, want 1"},
		{`null`, "invalid event: schema_version 0, want 1"},
		{`{"schema_version":1}`, "invalid event: no event_id"},
		{`{"schema_version":1,"event_id":"e"}`, "invalid event: no tenant"},
		{`{"schema_version":1,"event_id":"e","tenant":"t"}`, "invalid event: no device_id"},
		{`{"schema_version":1,"event_id":"e","tenant":"t","device_id":"d","kind":"x"}`, `invalid event: kind "x"`},
		{`{"schema_version":1,"event_id":"e","tenant":"t","device_id":"d","kind":"alert"}`, "invalid event: no received_at"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Decode(%s) error %v, want %q", tc.in, err, tc.want)
			}
		})
	}
}

// TestDecoderReuse checks that a Decoder carries nothing from one event to
// the next, and that what it hands out stays valid after it moves on.
func TestDecoderReuse(t *testing.T) {
	var d Decoder
	lines := goldenEvents(t)
	got := make([]event.Event, len(lines))
	for round := range 2 {
		for i, line := range lines {
			if err := d.DecodeInto(line, &got[i]); err != nil {
				t.Fatal(err)
			}
			if round == 0 && i%3 == 0 {
				// An invalid event in between must leave nothing behind.
				var bad event.Event
				if err := d.DecodeInto([]byte(`{"text":"zzz","product":{"name":"zzz"},"schema_version":9}`), &bad); err == nil {
					t.Fatal("accepted an invalid event")
				}
			}
		}
	}
	for i, line := range lines {
		want, err := decodeStd(line)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[i], want) {
			t.Fatalf("event %d after reuse:\n got %+v\nwant %+v", i, got[i], want)
		}
	}
}

// TestDecoderAllocations pins the cost the aggregator relies on: once the
// intern table knows a fleet's repeated values, an event costs one
// allocation, two with a product.
func TestDecoderAllocations(t *testing.T) {
	withProduct := eventtest.Sample()
	without := eventtest.Sample()
	without.Product = nil
	for _, tc := range []struct {
		name string
		e    event.Event
		max  float64
	}{{"with product", withProduct, 2}, {"without product", without, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			data := AppendJSON(nil, &tc.e)
			var d Decoder
			var e event.Event
			if got := testing.AllocsPerRun(100, func() {
				if err := d.DecodeInto(data, &e); err != nil {
					t.Fatal(err)
				}
			}); got > tc.max {
				t.Fatalf("%v allocations per event, want at most %v", got, tc.max)
			}
		})
	}
}

// TestDecoderInternBounded: distinct values in an interned field never grow
// the table past internMax, and interned values are shared.
func TestDecoderInternBounded(t *testing.T) {
	var d Decoder
	e := eventtest.Sample()
	for i := range 3 * internMax {
		e.Tenant = fmt.Sprintf("tenant-%d", i)
		var got event.Event
		if err := d.DecodeInto(AppendJSON(nil, &e), &got); err != nil {
			t.Fatal(err)
		}
		if got.Tenant != e.Tenant {
			t.Fatalf("tenant %q, want %q", got.Tenant, e.Tenant)
		}
		if len(d.intern) > internMax {
			t.Fatalf("intern table holds %d values, bound %d", len(d.intern), internMax)
		}
	}
	var one, two event.Event
	e.Tenant = "contoso"
	if err := d.DecodeInto(AppendJSON(nil, &e), &one); err != nil {
		t.Fatal(err)
	}
	if err := d.DecodeInto(AppendJSON(nil, &e), &two); err != nil {
		t.Fatal(err)
	}
	if unsafe.StringData(one.CodeName) != unsafe.StringData(two.CodeName) || unsafe.StringData(one.Tenant) != unsafe.StringData(two.Tenant) {
		t.Fatal("interned fields of two events are not shared")
	}
	if unsafe.StringData(one.EventID) == unsafe.StringData(two.EventID) {
		t.Fatal("event_id is interned")
	}
}

// BenchmarkDecode compares Decode with encoding/json over the golden events
// (every shape contract v1 has); one op decodes one event.
func BenchmarkDecode(b *testing.B) {
	lines := goldenEvents(b)
	var total int64
	for _, l := range lines {
		total += int64(len(l))
	}
	run := func(b *testing.B, decode func([]byte) error) {
		b.SetBytes(total / int64(len(lines)))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := decode(lines[i]); err != nil {
				b.Fatal(err)
			}
			if i++; i == len(lines) {
				i = 0
			}
		}
	}
	b.Run("decoder", func(b *testing.B) {
		var d Decoder
		var e event.Event
		run(b, func(data []byte) error { return d.DecodeInto(data, &e) })
	})
	b.Run("Decode", func(b *testing.B) {
		run(b, func(data []byte) error { _, err := Decode(data); return err })
	})
	b.Run("encoding_json", func(b *testing.B) {
		run(b, func(data []byte) error { _, err := decodeStd(data); return err })
	})
}

// TestSpecial8 checks the eight-byte scan against the byte table for every
// byte value at every position.
func TestSpecial8(t *testing.T) {
	for c := range 256 {
		for pos := range 8 {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			x := uint64(0)
			for k := 7; k >= 0; k-- {
				x = x<<8 | uint64(b[k])
			}
			if got, want := special8(x), strClass[c] != 0; got != want {
				t.Fatalf("byte %#x at %d: special8 %v, want %v", c, pos, got, want)
			}
		}
	}
}
