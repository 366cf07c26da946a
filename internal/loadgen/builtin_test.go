package loadgen

import (
	"testing"

	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/syncml"
)

// Every builtin message parses, yields events, and the mix has the sizes
// and events per message its doc comment claims.
func TestBuiltinMessagesParseAndYieldEvents(t *testing.T) {
	b := NewBuiltin(100, 7)
	sc := syncml.NewScanner(syncml.DefaultLimits)
	var bld event.Builder
	var evs []event.Event
	const n = 2000
	total, bytes, minSize, maxSize := 0, 0, 1<<30, 0
	for i := 0; i < n; i++ {
		m := b.Next()
		msg, err := sc.Parse(m.Body)
		if err != nil {
			t.Fatalf("message %d: %v\n%s", i, err, m.Body)
		}
		evs, _ = bld.Build(msg, event.Meta{Tenant: "t"}, evs[:0])
		if len(evs) == 0 {
			t.Fatalf("message %d yields no events:\n%s", i, m.Body)
		}
		total += len(evs)
		bytes += len(m.Body)
		minSize, maxSize = min(minSize, len(m.Body)), max(maxSize, len(m.Body))
	}
	avg := float64(total) / n
	t.Logf("%.2f events/msg, %d bytes/msg (min %d, max %d)", avg, bytes/n, minSize, maxSize)
	if avg < 3 || avg > 6 || maxSize > 10000 || minSize < 500 {
		t.Errorf("mix drifted: %.2f events/msg, sizes %d..%d", avg, minSize, maxSize)
	}
}

func TestBuiltinIsDeterministicAndFresh(t *testing.T) {
	a, b := NewBuiltin(10, 3), NewBuiltin(10, 3)
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		x, y := a.Next(), b.Next()
		if string(x.Body) != string(y.Body) {
			t.Fatal("same seed, different messages")
		}
		if seen[string(x.Body)] {
			t.Fatal("a message repeated: its events would be duplicates")
		}
		seen[string(x.Body)] = true
	}
}
