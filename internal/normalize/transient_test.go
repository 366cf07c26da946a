package normalize

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/eventjson"
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
	var enc eventjson.Encoder
	var got []event.Event
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
			if w := eventjson.AppendJSON(nil, &want[j]); !bytes.Equal(line, w) {
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
	var enc eventjson.Encoder
	var events []event.Event
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
		want = append(want, eventjson.AppendJSON(nil, &kept[i]))
	}
	var scratch []event.Event
	for _, raw := range msgs {
		m, err := syncml.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		scratch, _ = b.BuildTransient(m, testMeta, scratch[:0])
		b.Build(m, testMeta, nil)
	}
	for i := range kept {
		if got := eventjson.AppendJSON(nil, &kept[i]); !bytes.Equal(got, want[i]) {
			t.Fatalf("event %d changed after later builds:\n%s\n%s", i, got, want[i])
		}
	}
}
