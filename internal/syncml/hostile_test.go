package syncml

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestHostileFiles checks that each attack in testdata/hostile is a clean
// *Error with the expected reason.
func TestHostileFiles(t *testing.T) {
	want := map[string]Reason{
		"billion_laughs.xml":           ReasonDoctype,
		"xxe_external_entity.xml":      ReasonDoctype,
		"xxe_parameter_entity.xml":     ReasonDoctype,
		"undeclared_entity.xml":        ReasonUnknownEntity,
		"truncated.xml":                ReasonTruncated,
		"invalid_utf8.xml":             ReasonInvalidUTF8,
		"unterminated_comment.xml":     ReasonTruncated,
		"unterminated_cdata.xml":       ReasonTruncated,
		"mismatched_tags.xml":          ReasonMalformed,
		"utf16_unpaired_surrogate.xml": ReasonEncoding,
	}
	files, _ := filepath.Glob("testdata/hostile/*")
	if len(files) != len(want) {
		t.Fatalf("%d hostile files, %d expectations: keep them in step", len(files), len(want))
	}
	s := NewScanner(Limits{})
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			expectReason(t, s, data, want[name])
		})
	}
}

func expectReason(t *testing.T, s *Scanner, data []byte, want Reason) {
	t.Helper()
	_, err := s.Parse(data)
	var se *Error
	if !errors.As(err, &se) || se.Reason != want {
		t.Fatalf("got %v, want reason %s", err, want)
	}
}

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestHostileGenerated covers attacks too large to commit, and checks that
// the memory each one costs stays well under three times its size.
func TestHostileGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("builds inputs of tens of megabytes")
	}
	const mb = 1 << 20
	head := `<SyncML xmlns="SYNCML:SYNCML1.2">` + testHdr + `<SyncBody>`
	tail := `</SyncBody></SyncML>`
	deep := func(open, close string) []byte {
		var b bytes.Buffer
		b.WriteString(head)
		for i := 0; i < 1_000_000; i++ {
			b.WriteString(open)
		}
		for i := 0; i < 1_000_000; i++ {
			b.WriteString(close)
		}
		b.WriteString(tail)
		return b.Bytes()
	}
	bigAttr := []byte(`<SyncML xmlns="SYNCML:SYNCML1.2" a="` + strings.Repeat("A", 50*mb) + `">` + testHdr + tail[len(`</SyncBody>`):])
	bigData := []byte(head + `<Alert><Item><Data>` + strings.Repeat("&lt;x&gt;", 50*mb/9) + `</Data></Item></Alert>` + tail)
	tests := []struct {
		name   string
		input  []byte
		limits Limits
		want   Reason // "" means accepted
	}{
		{"10^6-deep nesting", deep("<Atomic>", "</Atomic>"), Limits{}, ReasonTooDeep},
		{"10^6-deep nesting of unknown elements", deep("<x>", "</x>"), Limits{}, ReasonTooDeep},
		{"10^6-deep nesting with a raised depth limit", deep("<a>", "</a>"), Limits{MaxDepth: 2_000_000, MaxElements: 3_000_000}, ""},
		{"10^6 sibling elements", []byte(head + strings.Repeat("<Map/>", 1_000_000) + tail), Limits{}, ReasonTooManyElements},
		// Every command costs a Command: Limits.MaxCommands bounds a flood.
		{"10^6 empty commands", []byte(head + strings.Repeat("<Get/>", 1_000_000) + tail), Limits{}, ReasonTooManyElements},
		{"10^6 empty Alerts", []byte(head + strings.Repeat("<Alert/>", 1_000_000) + tail), Limits{}, ReasonTooManyElements},
		{"10^6-deep nesting of containers", deep("<Sequence>", "</Sequence>"), Limits{MaxDepth: 2_000_000, MaxElements: 3_000_000}, ReasonTooManyElements},
		{"50 MB attribute", bigAttr, Limits{}, ReasonTooLarge},
		{"50 MB attribute under a raised limit", bigAttr, Limits{MaxAttrLen: 64 * mb}, ""},
		{"50 MB entity-escaped Data", bigData, Limits{}, ""},
		{"50 MB truncated", bigData[:len(bigData)-10], Limits{}, ReasonTruncated},
		{"50 MB of '<'", bytes.Repeat([]byte("<"), 50*mb), Limits{}, ReasonMalformed},
		{"50 MB unterminated comment", append([]byte(head+"<!--"), bytes.Repeat([]byte("-x"), 25*mb)...), Limits{}, ReasonTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewScanner(tc.limits)
			var err error
			n := allocated(func() { _, err = s.Parse(tc.input) })
			var se *Error
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tc.want != "" && (!errors.As(err, &se) || se.Reason != tc.want):
				t.Fatalf("got %v, want reason %s", err, tc.want)
			}
			if limit := 3 * uint64(len(tc.input)); n > limit {
				t.Errorf("allocated %d bytes for a %d-byte input, want under %d", n, len(tc.input), limit)
			}
			t.Logf("%d-byte input: %d bytes allocated, %v", len(tc.input), n, err)
		})
	}
}

// TestZeroAllocs proves that a warmed-up Scanner parses every corpus message
// without allocating.
func TestZeroAllocs(t *testing.T) {
	s := NewScanner(Limits{})
	var inputs [][]byte
	for _, f := range corpusFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, data)
		if _, err := s.Parse(data); err != nil {
			t.Fatal(err)
		}
	}
	for _, data := range inputs {
		if a := testing.AllocsPerRun(100, func() {
			if _, err := s.Parse(data); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%d allocations per Parse of %.60q", int(a), data)
		}
	}
}
