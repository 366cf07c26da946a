package event

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/cspwatch/cspwatch/internal/syncml"
	"github.com/cspwatch/cspwatch/internal/syncml/syncmltest"
)

// messages are the event testdata followed by the realistic corpus.
func messages(t testing.TB) [][]byte {
	t.Helper()
	files, _ := filepath.Glob("testdata/*.xml")
	var msgs [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, raw)
	}
	return append(msgs, syncmltest.Corpus()...)
}

// TestBuildTransientMatchesBuild checks that one Builder's BuildTransient
// gives, message after message, the events a fresh Build gives, and that the
// Encoder writes for them what AppendJSON writes.
func TestBuildTransientMatchesBuild(t *testing.T) {
	sc := syncml.NewScanner(syncml.DefaultLimits)
	var transient Builder
	var enc Encoder
	var got []Event
	var line []byte
	for i, raw := range messages(t) {
		msg, err := sc.Parse(raw)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		var owned Builder
		want, wantSt := owned.Build(msg, testMeta, nil)
		var st Stats
		got, st = transient.BuildTransient(msg, testMeta, got[:0])
		if st != wantSt || len(got) != len(want) || len(got) > 0 && !reflect.DeepEqual(got, want) {
			t.Fatalf("message %d: BuildTransient differs from Build:\n%+v %+v\n%+v %+v", i, got, st, want, wantSt)
		}
		for j := range got {
			line = enc.AppendJSON(line[:0], &got[j])
			if w := want[j].AppendJSON(nil); !bytes.Equal(line, w) {
				t.Fatalf("message %d event %d: Encoder wrote\n%s\nAppendJSON\n%s", i, j, line, w)
			}
		}
	}
}

// TestBuildTransientAllocations: once its buffers have grown, BuildTransient
// allocates nothing, nor does the Encoder.
func TestBuildTransientAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes the standard library allocate")
	}
	sc := syncml.NewScanner(syncml.DefaultLimits)
	var b Builder
	var enc Encoder
	var events []Event
	var line []byte
	msgs := messages(t)
	run := func() {
		for _, raw := range msgs {
			msg, err := sc.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			events, _ = b.BuildTransient(msg, testMeta, events[:0])
			for i := range events {
				line = enc.AppendJSON(line[:0], &events[i])
			}
		}
	}
	run()
	if n := testing.AllocsPerRun(3, run); n != 0 {
		t.Fatalf("%v allocations per run of %d messages, want 0", n, len(msgs))
	}
}

// TestBuildKeepsEvents: the events of Build survive later builds, including
// transient ones, unchanged.
func TestBuildKeepsEvents(t *testing.T) {
	msgs := messages(t)
	var b Builder
	msg, err := syncml.Parse(msgs[len(msgs)-1])
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := b.Build(msg, testMeta, nil)
	var want [][]byte
	for i := range kept {
		want = append(want, kept[i].AppendJSON(nil))
	}
	var scratch []Event
	for _, raw := range msgs {
		m, err := syncml.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		scratch, _ = b.BuildTransient(m, testMeta, scratch[:0])
		b.Build(m, testMeta, nil)
	}
	for i := range kept {
		if got := kept[i].AppendJSON(nil); !bytes.Equal(got, want[i]) {
			t.Fatalf("event %d changed after later builds:\n%s\n%s", i, got, want[i])
		}
	}
}

// TestEncoderSharedFields: the Encoder rewrites the shared fields whenever
// one of them changes, also when a string keeps its address but not its
// bytes, as the strings of BuildTransient do.
func TestEncoderSharedFields(t *testing.T) {
	device := []byte("DEVICE-1")
	name := []byte("Orca")
	base := sampleEvent()
	base.DeviceID = unsafe.String(&device[0], len(device))
	base.Product = &Product{Name: unsafe.String(&name[0], len(name)), Version: "5.0"}
	changes := []func(e *Event){
		func(e *Event) {},
		func(e *Event) { e.EventID = "other" },
		func(e *Event) { copy(device, "DEVICE-2") },
		func(e *Event) { e.Tenant = "fabrikam" },
		func(e *Event) { e.SessionID = "1B" },
		func(e *Event) { e.MsgID = "3" },
		func(e *Event) { e.SchemaVersion = 2 },
		func(e *Event) { e.ReceivedAt = e.ReceivedAt.Add(time.Millisecond) },
		func(e *Event) { e.ReceivedAt = e.ReceivedAt.In(time.FixedZone("x", 3600)) },
		func(e *Event) { e.ReceivedAt = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
		// The boundaries between the shared strings move, their concatenation stays.
		func(e *Event) { e.Tenant, e.DeviceID = "contosoD", "EVICE-2" },
		func(e *Event) { e.SessionID, e.MsgID = "1", "B3" },
		func(e *Event) { e.Tenant = "<&>\u2028" },
		func(e *Event) { copy(name, "Orcb") },
		func(e *Event) { e.Product = &Product{Name: e.Product.Name, Version: e.Product.Version} },
		func(e *Event) { e.Product.Version = "5.0 & <later>" },
		func(e *Event) { e.Product.Name, e.Product.Version = "Orcb5", ".0 & <later>" },
		func(e *Event) { e.Product.Publisher = "Microsoft" },
		func(e *Event) { e.Product.InstallDate = "20261122" },
		func(e *Event) { e.Product.InstallPath = `C:\Program Files\Orca` },
		func(e *Event) { e.Product.LastErrorDesc = "none" },
		// Each field once more, keeping every length.
		func(e *Event) { e.Product.Name = "Orcc5" },
		func(e *Event) { e.Product.Version = ".1 & <later>" },
		func(e *Event) { e.Product.Publisher = "Microsofu" },
		func(e *Event) { e.Product.InstallDate = "20261123" },
		func(e *Event) { e.Product.InstallPath = `C:\Program Files\Orcb` },
		func(e *Event) { e.Product.LastErrorDesc = "nonf" },
		func(e *Event) { e.Tenant = "fabrikan" },
		func(e *Event) { e.SessionID = "1C" },
		func(e *Event) { e.MsgID = "4" },
		func(e *Event) { e.Product = nil },
		func(e *Event) { e.Product = &Product{} },
		func(e *Event) { e.Product = &Product{LastErrorDesc: "none"} },
		func(e *Event) { *e = Event{} },
	}
	var enc Encoder
	e := base
	for i, change := range changes {
		change(&e)
		for range 2 {
			got := enc.AppendJSON([]byte("prefix"), &e)
			want := e.AppendJSON([]byte("prefix"))
			if !bytes.Equal(got, want) {
				t.Fatalf("change %d: Encoder wrote\n%s\nAppendJSON\n%s", i, got, want)
			}
		}
	}
}
