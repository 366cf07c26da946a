package syncml

import (
	"encoding/xml"
	"runtime"
	"testing"

	"github.com/cspwatch/cspwatch/internal/syncml/syncmltest"
)

// benchCorpus is the realistic corpus shared with the pipeline benchmark of
// package event.
var benchCorpus = syncmltest.Corpus

var corpusBytes = syncmltest.Bytes

func TestBenchCorpusShape(t *testing.T) {
	c := benchCorpus()
	small, mid, large := 0, 0, 0
	s := NewScanner(Limits{})
	for _, m := range c {
		switch n := len(m); {
		case n < 1000 || n > 21000:
			t.Errorf("message of %d bytes outside 1–20 KB", n)
		case n < 2000:
			small++
		case n <= 5100:
			mid++
		default:
			large++
		}
		msg, err := s.Parse(m)
		if err != nil {
			t.Fatalf("bench message does not parse: %v", err)
		}
		ref, err := refExtract(m)
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(msg, ref); d != "" {
			t.Fatalf("bench message: scanner and reference disagree: %s", d)
		}
	}
	if mid*2 < len(c) {
		t.Errorf("%d of %d messages are 2–5 KB, want most", mid, len(c))
	}
	t.Logf("%d messages, %d bytes: %d under 2 KB, %d 2–5 KB, %d larger", len(c), corpusBytes(c), small, mid, large)
}

// Each benchmark op parses the whole corpus, so MB/s is over real message
// sizes and allocs/op is per corpus; msg/s-style metrics are reported too.
func runCorpus(b *testing.B, parse func(m []byte) int) {
	c := benchCorpus()
	b.SetBytes(corpusBytes(c))
	b.ReportAllocs()
	sink := 0
	for _, m := range c { // warm up and check every contender reads every message
		if parse(m) == 0 {
			b.Fatal("contender extracted nothing")
		}
	}
	// Building the corpus leaves the collector busy; let it finish so that
	// it does not run inside the first measurement.
	runtime.GC()
	b.ResetTimer()
	for b.Loop() {
		for _, m := range c {
			sink += parse(m)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(c)), "ns/msg")
	if sink == 0 {
		b.Fatal("no facts")
	}
}

func BenchmarkScan(b *testing.B) {
	s := NewScanner(Limits{})
	runCorpus(b, func(data []byte) int {
		m, err := s.Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		n := len(m.Header.Source)
		for i := range m.Commands {
			n += len(m.Commands[i].Items) + len(m.Commands[i].Data)
		}
		return n
	})
}

type xData struct {
	Value   string `xml:",chardata"`
	OrigErr string `xml:"originalerror,attr"`
}

type xMeta struct {
	Format string `xml:"Format"`
	Type   string `xml:"Type"`
	Mark   string `xml:"Mark"`
}

type xLoc struct {
	LocURI string `xml:"LocURI"`
}

type xItem struct {
	Source xLoc  `xml:"Source"`
	Target xLoc  `xml:"Target"`
	Meta   xMeta `xml:"Meta"`
	Data   xData `xml:"Data"`
	Format string
	Type   string
	Mark   string
}

type xCmd struct {
	CmdID     string   `xml:"CmdID"`
	MsgRef    string   `xml:"MsgRef"`
	CmdRef    string   `xml:"CmdRef"`
	Cmd       string   `xml:"Cmd"`
	TargetRef []string `xml:"TargetRef"`
	SourceRef []string `xml:"SourceRef"`
	Data      xData    `xml:"Data"`
	Meta      xMeta    `xml:"Meta"`
	Item      []xItem  `xml:"Item"`
}

type xSyncML struct {
	XMLName xml.Name `xml:"SyncML"`
	Hdr     struct {
		VerDTD    string `xml:"VerDTD"`
		VerProto  string `xml:"VerProto"`
		SessionID string `xml:"SessionID"`
		MsgID     string `xml:"MsgID"`
		Target    xLoc   `xml:"Target"`
		Source    xLoc   `xml:"Source"`
	} `xml:"SyncHdr"`
	Body struct {
		Status  []xCmd    `xml:"Status"`
		Results []xCmd    `xml:"Results"`
		Alert   []xCmd    `xml:"Alert"`
		Final   *struct{} `xml:"Final"`
	} `xml:"SyncBody"`
}

// BenchmarkEncodingXML is the standard library baseline: Unmarshal into
// structs holding the same facts (without document order across kinds).
func BenchmarkEncodingXML(b *testing.B) {
	runCorpus(b, func(data []byte) int {
		var m xSyncML
		if err := xml.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
		n := len(m.Hdr.Source.LocURI)
		for _, cs := range [][]xCmd{m.Body.Status, m.Body.Results, m.Body.Alert} {
			for i := range cs {
				n += len(cs[i].Item) + len(cs[i].Data.Value)
			}
		}
		return n
	})
}

// BenchmarkEtree is the DOM baseline: etree ReadFromBytes plus the reference
// extraction of the differential tests.
func BenchmarkEtree(b *testing.B) {
	runCorpus(b, func(data []byte) int {
		m, err := refExtract(data)
		if err != nil {
			b.Fatal(err)
		}
		n := len(m.Source)
		for i := range m.Commands {
			n += len(m.Commands[i].Items) + len(m.Commands[i].Data)
		}
		return n
	})
}
