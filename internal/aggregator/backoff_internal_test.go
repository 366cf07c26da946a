package aggregator

import (
	"testing"
	"time"
)

// The jittered back-off keeps the meaning of BackoffMin and BackoffMax:
// every delay within them, starting near the minimum, reaching the maximum,
// and starting over after Reset.
func TestBackOffWithinBounds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BackoffMin, cfg.BackoffMax = 50*time.Millisecond, time.Second
	bo := cfg.newBackOff()
	for round := range 2 {
		first := bo.NextBackOff()
		if hi := time.Duration(float64(cfg.BackoffMin) * (1 + backoffJitter)); first < cfg.BackoffMin || first > hi {
			t.Fatalf("round %d: first delay %v, want within [%v, %v]", round, first, cfg.BackoffMin, hi)
		}
		reached, distinct := false, map[time.Duration]bool{}
		for range 200 {
			d := bo.NextBackOff()
			if d < cfg.BackoffMin || d > cfg.BackoffMax {
				t.Fatalf("round %d: delay %v outside [%v, %v]", round, d, cfg.BackoffMin, cfg.BackoffMax)
			}
			reached = reached || d == cfg.BackoffMax
			distinct[d] = true
		}
		if !reached || len(distinct) < 10 {
			t.Fatalf("round %d: reached the maximum %v, %d distinct delays: want the maximum and jitter", round, reached, len(distinct))
		}
		bo.Reset()
	}
}
