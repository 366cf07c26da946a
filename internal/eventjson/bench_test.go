package eventjson

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/normalize"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

// benchCorpus is package normalize's testdata: every rule of contract v1 in
// a handful of real-shaped messages.
func benchCorpus(b *testing.B) (msgs [][]byte, total int64) {
	files, _ := filepath.Glob("../normalize/testdata/*.xml")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, raw)
		total += int64(len(raw))
	}
	if len(msgs) == 0 {
		b.Fatal("no testdata")
	}
	return msgs, total
}

// benchMeta is normalize's testMeta.
var benchMeta = normalize.Meta{
	Tenant:     "contoso",
	ReceivedAt: time.Date(2026, 11, 23, 5, 22, 6, 123_456_789, time.UTC),
}

// BenchmarkEncode measures the JSON encoding and subjects of the events of
// package normalize's testdata alone; bytes are those of the messages, as in
// normalize's benchmarks. Event encodes with AppendJSON, Encoder with an
// Encoder, as ingest does.
func BenchmarkEncode(b *testing.B) {
	msgs, total := benchCorpus(b)
	var bl normalize.Builder
	var events []event.Event
	for _, m := range msgs {
		msg, err := syncml.Parse(m)
		if err != nil {
			b.Fatal(err)
		}
		events, _ = bl.Build(msg, benchMeta, events)
	}
	b.Run("event.Event", func(b *testing.B) {
		var buf, subj []byte
		b.SetBytes(total)
		b.ReportAllocs()
		for b.Loop() {
			for i := range events {
				buf = AppendJSON(buf[:0], &events[i])
				subj = events[i].AppendSubject(subj[:0])
			}
		}
	})
	b.Run("Encoder", func(b *testing.B) {
		var enc Encoder
		var buf, subj []byte
		b.SetBytes(total)
		b.ReportAllocs()
		for b.Loop() {
			for i := range events {
				buf = enc.AppendJSON(buf[:0], &events[i])
				subj = events[i].AppendSubject(subj[:0])
			}
		}
	})
}
