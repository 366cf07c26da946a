package normalize

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

// FuzzBuild: whatever message the scanner accepts, Build never panics, every
// event has an id and an outcome, and its JSON is valid; BuildTransient
// builds the same events, and the Encoder writes what AppendJSON writes.
func FuzzBuild(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	more, _ := filepath.Glob("testdata/realworld/*.xml")
	corpus, _ := filepath.Glob("../syncml/testdata/corpus/*.xml")
	files = append(append(files, more...), corpus...)
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	sc := syncml.NewScanner(syncml.DefaultLimits)
	var b, bt Builder
	var enc eventjson.Encoder
	var transient []event.Event
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sc.Parse(data)
		if err != nil {
			return
		}
		events, st := b.Build(msg, testMeta, nil)
		if st.Events != len(events) {
			t.Fatalf("Stats.Events %d, built %d", st.Events, len(events))
		}
		var tst Stats
		transient, tst = bt.BuildTransient(msg, testMeta, transient[:0])
		if tst != st || len(transient) != len(events) || len(events) > 0 && !reflect.DeepEqual(transient, events) {
			t.Fatalf("BuildTransient differs from Build:\n%+v\n%+v", transient, events)
		}
		for i := range events {
			e := &events[i]
			if len(e.EventID) != 32 || e.Outcome == "" || e.Kind == "" {
				t.Fatalf("incomplete event %+v", e)
			}
			line := eventjson.AppendJSON(nil, e)
			if _, err := eventjson.Decode(line); err != nil {
				t.Fatalf("event does not decode: %v", err)
			}
			if got := enc.AppendJSON(nil, &transient[i]); !bytes.Equal(got, line) {
				t.Fatalf("Encoder wrote\n%s\nAppendJSON\n%s", got, line)
			}
		}
	})
}

// FuzzBuildCommands: whatever message the scanner accepts, BuildCommands
// never panics and gives, twice alike, command events that each have an id
// of their own, the device of SyncHdr/Target, a command, the outcome
// requested, a payload error exactly where Stats counts one, and JSON that
// decodes and survives the wire. Seeded with the scanner's corpus, whose server
// messages carry escaped, CDATA and raw install documents, and the server
// messages of testdata/commands.
func FuzzBuildCommands(f *testing.F) {
	files, _ := filepath.Glob("../syncml/testdata/corpus/*.xml")
	more, _ := filepath.Glob("testdata/commands/*.xml")
	for _, name := range append(files, more...) {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	sc := syncml.NewScanner(syncml.DefaultLimits)
	var b, again Builder
	commands := []string{event.CommandAdd, event.CommandReplace, event.CommandExec, event.CommandGet, event.CommandDelete,
		event.CommandAtomic, event.CommandSequence}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sc.Parse(data)
		if err != nil {
			return
		}
		events, st := b.BuildCommands(msg, testMeta, nil)
		if st.Events != len(events) {
			t.Fatalf("Stats.Events %d, built %d", st.Events, len(events))
		}
		twice, st2 := again.BuildCommands(msg, testMeta, nil)
		if st2 != st || len(events) > 0 && !reflect.DeepEqual(twice, events) {
			t.Fatalf("BuildCommands differs on the same message:\n%+v\n%+v", twice, events)
		}
		ids := map[string]bool{}
		rejected := 0
		for i := range events {
			e := &events[i]
			if len(e.EventID) != 32 || ids[e.EventID] || e.Kind != event.KindCommand || e.Outcome != event.OutcomeRequested ||
				!slices.Contains(commands, e.Command) || e.DeviceID != string(msg.Header.Target) || e.DeviceID == "" {
				t.Fatalf("bad command event %+v", e)
			}
			ids[e.EventID] = true
			if e.PayloadError != "" {
				rejected++
				if e.MSIJob != nil || e.OfficeConfig != nil {
					t.Fatalf("payload error %q with a document: %+v", e.PayloadError, e)
				}
			}
			line := eventjson.AppendJSON(nil, e)
			got, err := eventjson.Decode(line)
			if err != nil {
				t.Fatalf("event does not decode: %v\n%s", err, line)
			}
			// Invalid UTF-8 (a percent-decoded target) is written as
			// U+FFFD: what decodes then survives the wire unchanged.
			if again, err := eventjson.Decode(eventjson.AppendJSON(nil, &got)); err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("event does not survive the wire: %v\n%+v\n%+v", err, again, got)
			}
		}
		if rejected != st.PayloadRejected {
			t.Fatalf("%d events with a payload error, Stats.PayloadRejected %d", rejected, st.PayloadRejected)
		}
	})
}

// FuzzParsePath: LocURI parsing never panics, and the fast path for the usual roots agrees with the general
// one (".//" defeats the former and the latter trims it, once).
func FuzzParsePath(f *testing.F) {
	f.Add("./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%7Baf9257ba-6bbd-4624-aa9b-0182d50292c3%7D/Status")
	f.Add("./User/Vendor/MSFT/Office/Installation/CurrentStatus")
	f.Add("./Vendor/MSFT/Office/Installation/{0aa79349-f334-4859-96e8-b4ab43e9fea0}/Status?list=Struct")
	f.Fuzz(func(t *testing.T, loc string) {
		p := parsePath([]byte(loc))
		if rest, ok := strings.CutPrefix(loc, "./"); ok && !strings.HasPrefix(rest, "/") {
			if q := parsePath([]byte(".//" + rest)); !reflect.DeepEqual(p, q) {
				t.Fatalf("%q parses to %+v, with .// to %+v", loc, p, q)
			}
		}
	})
}
