package event

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cspwatch/cspwatch/internal/syncml"
)

// benchCorpus is the event testdata: every rule of contract v1 in a handful
// of real-shaped messages.
func benchCorpus(b *testing.B) (msgs [][]byte, total int64) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, raw)
		total += int64(len(raw))
	}
	return msgs, total
}

// BenchmarkBuild measures normalisation alone, on messages already scanned.
func BenchmarkBuild(b *testing.B) {
	msgs, total := benchCorpus(b)
	parsed := make([]*syncml.Message, len(msgs))
	for i, m := range msgs {
		sc := syncml.NewScanner(syncml.DefaultLimits) // each message keeps its own scanner
		var err error
		if parsed[i], err = sc.Parse(m); err != nil {
			b.Fatal(err)
		}
	}
	var bl Builder
	var events []Event
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range parsed {
			events, _ = bl.Build(m, testMeta, events[:0])
		}
	}
}

// BenchmarkPipeline is what ingest does per message before publishing: scan,
// normalise, encode every event and its subject.
func BenchmarkPipeline(b *testing.B) {
	msgs, total := benchCorpus(b)
	sc := syncml.NewScanner(syncml.DefaultLimits)
	var bl Builder
	var events []Event
	var buf, subj []byte
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			msg, err := sc.Parse(m)
			if err != nil {
				b.Fatal(err)
			}
			events, _ = bl.Build(msg, testMeta, events[:0])
			for i := range events {
				buf = events[i].AppendJSON(buf[:0])
				subj = events[i].AppendSubject(subj[:0])
			}
		}
	}
}

// BenchmarkEncode measures the JSON encoding and subjects of the corpus's
// events alone; bytes are those of the messages, as in the others.
func BenchmarkEncode(b *testing.B) {
	msgs, total := benchCorpus(b)
	var bl Builder
	var events []Event
	for _, m := range msgs {
		msg, err := syncml.Parse(m)
		if err != nil {
			b.Fatal(err)
		}
		events, _ = bl.Build(msg, testMeta, events)
	}
	var buf, subj []byte
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for i := range events {
			buf = events[i].AppendJSON(buf[:0])
			subj = events[i].AppendSubject(subj[:0])
		}
	}
}
