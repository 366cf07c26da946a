package eventjson

import (
	"reflect"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event/eventtest"
)

// FuzzDecode: Decode never panics, agrees with encoding/json on every
// input (both reject it, or both accept it with equal events), and what it
// accepts re-encodes to an event that decodes to the same value.
func FuzzDecode(f *testing.F) {
	e := eventtest.Sample()
	f.Add(AppendJSON(nil, &e))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"schema_version":1,"event_id":"x","tenant":"t","device_id":"d","kind":"alert","received_at":"2026-01-01T00:00:00Z"}`))
	full := eventtest.Full()
	f.Add(AppendJSON(nil, &full))
	f.Add([]byte(`{"schema_version":1,"event_id":"x","tenant":"t","device_id":"d","kind":"command","received_at":"2026-01-01T00:00:00Z","msi_job":{"content_urls":["a","b"],"content_urls":[null],"timeout_min":5},"office_config":{"languages":[],"remove":true}}`))
	f.Add([]byte(`{"Schema_Version":1,"event_id":"\u0078","\u212aind":"alert","tenant":"t\ud83d\ude00","device_id":"d\ud800","received_at":"2026-01-01T00:00:00Z","x":[1e5,{"y":null}],"product":{"name":null},"product":{}}`))
	for _, line := range goldenEvents(f) {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := checkAgrees(t, data)
		if err != nil {
			return
		}
		again, err := Decode(AppendJSON(nil, &e))
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		// received_at is written with milliseconds, and an empty array is
		// left out (omitempty), so it comes back nil.
		e.ReceivedAt = e.ReceivedAt.Truncate(time.Millisecond)
		if j := e.MSIJob; j != nil && len(j.ContentURLs) == 0 {
			j.ContentURLs = nil
		}
		if c := e.OfficeConfig; c != nil {
			if len(c.ProductIDs) == 0 {
				c.ProductIDs = nil
			}
			if len(c.Languages) == 0 {
				c.Languages = nil
			}
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", again, e)
		}
	})
}
