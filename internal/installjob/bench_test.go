package installjob

import (
	"testing"
)

// BenchmarkParseMSIJob gives the cost of one install document for reference
// (run with -benchmem); max_elements is the most a hostile document that
// passes every limit can cost.
func BenchmarkParseMSIJob(b *testing.B) {
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"plain", readTestdata(b, "msi", "plain")},
		{"escaped_once", readTestdata(b, "msi", "escaped_once")},
		{"max_elements", []byte(siblings(MaxElements))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			for b.Loop() {
				if _, err := ParseMSIJob(bc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
