package aggregator_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cspwatch/cspwatch/internal/aggregator"
	"github.com/cspwatch/cspwatch/internal/bus/bustest"
	"github.com/cspwatch/cspwatch/internal/store"
)

// nullStore accepts every batch at once: with it the aggregator's rate is
// that of its NATS side (fetch, decode, ack) alone.
type nullStore struct{ rows atomic.Int64 }

func (s *nullStore) BeginInsert(context.Context) (store.Insert, error) {
	return &nullInsert{s: s}, nil
}

// nullInsert counts the rows of an insert when it is committed.
type nullInsert struct {
	s *nullStore
	n int
}

func (in *nullInsert) Write(rows []store.Row) error { in.n += len(rows); return nil }
func (in *nullInsert) Commit() error                { in.s.rows.Add(int64(in.n)); return nil }
func (in *nullInsert) Abort()                       {}

func (s *nullStore) ExistingIDs(context.Context, []store.Row) (map[string]struct{}, error) {
	return nil, nil
}

// BenchmarkNATSSide measures the aggregator draining a pre-filled stream
// into a store that costs nothing: the ceiling its NATS side puts on
// BenchmarkThroughput. It needs no ClickHouse.
func BenchmarkNATSSide(b *testing.B) {
	for _, tc := range []struct{ batch, events int }{{1_000, 50_000}, {10_000, 100_000}, {50_000, 200_000}} {
		b.Run(fmt.Sprintf("batch=%d", tc.batch), func(b *testing.B) {
			var rates []float64
			for range b.N {
				ns := bustest.Start(b)
				ns.InstallStream()
				publish(b, ns.JetStream(), 0, tc.events)
				cfg := aggregator.DefaultConfig()
				cfg.BatchSize = tc.batch
				cfg.MaxAckPending = max(4*tc.batch, 20_000)
				st := &nullStore{}
				agg, err := aggregator.New(ns.Conn(), st, cfg, benchLog(), prometheus.NewRegistry())
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				stopProfile := profileAggregator(b, "natsside", tc.batch)
				start := time.Now()
				go func() { done <- agg.Run(ctx) }()
				deadline := start.Add(5 * time.Minute)
				for st.rows.Load() < int64(tc.events) {
					if time.Now().After(deadline) {
						b.Fatalf("stored %d of %d rows in 5 minutes", st.rows.Load(), tc.events)
					}
					time.Sleep(time.Millisecond)
				}
				rates = append(rates, float64(tc.events)/time.Since(start).Seconds())
				stopProfile()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				ns.Stop()
			}
			b.ReportMetric(median(rates), "msgs/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
