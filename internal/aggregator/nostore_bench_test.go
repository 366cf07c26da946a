package aggregator_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cspwatch/cspwatch/internal/aggregator"
	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/store"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
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

func (s *nullStore) ExistingIDs(context.Context, []store.Row, time.Duration) (map[string]struct{}, error) {
	return nil, nil
}

func (s *nullStore) Ping(context.Context) error { return nil }

// BenchmarkNATSSide measures the aggregator draining a pre-filled stream
// into a store that costs nothing: the ceiling its NATS side puts on
// BenchmarkThroughput, and its CPU per message (the embedded nats-server's
// included) to set beside BenchmarkBareConsumer's. It needs no ClickHouse.
func BenchmarkNATSSide(b *testing.B) {
	for _, tc := range []struct{ batch, events int }{{1_000, 50_000}, {10_000, 100_000}, {50_000, 200_000}} {
		b.Run(fmt.Sprintf("batch=%d", tc.batch), func(b *testing.B) {
			var rates, cpus []float64
			for range b.N {
				ns := natstest.Start(b)
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
				cpu0 := readCPU(b)
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
				cpus = append(cpus, readCPU(b).since(cpu0).self/float64(tc.events)*1e6)
				stopProfile()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				ns.Stop()
			}
			b.ReportMetric(median(rates), "msgs/s")
			b.ReportMetric(median(cpus), "cpu_µs/msg")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkBareConsumer drains a pre-filled stream with nothing but a
// jetstream pull consumer: Fetch in chunks of 10,000 and acknowledge, with
// AckExplicit (one ack per message, as the aggregator must: processes sharing
// the consumer hold interleaved sequences) and with AckAll (one ack per
// chunk, the quoted ~340k msgs/s baseline). It reports msgs/s and
// the CPU per message of this process, which holds the embedded nats-server
// too: the floor that JetStream alone puts under the aggregator's cost per
// row on this machine. It needs no ClickHouse.
func BenchmarkBareConsumer(b *testing.B) {
	const events, chunk = 200_000, 10_000
	for _, policy := range []jetstream.AckPolicy{jetstream.AckExplicitPolicy, jetstream.AckAllPolicy} {
		b.Run(policy.String(), func(b *testing.B) {
			var rates, cpus []float64
			for range b.N {
				ns := natstest.Start(b)
				ns.InstallStream()
				js := ns.JetStream()
				publish(b, js, 0, events)
				ctx := context.Background()
				cons, err := js.CreateOrUpdateConsumer(ctx, bus.StreamName, jetstream.ConsumerConfig{
					Durable: "bare", AckPolicy: policy, MaxAckPending: 4 * chunk, AckWait: time.Minute,
				})
				if err != nil {
					b.Fatal(err)
				}
				cpu0 := readCPU(b)
				start := time.Now()
				for got := 0; got < events; {
					batch, err := cons.Fetch(chunk, jetstream.FetchMaxWait(time.Second))
					if err != nil {
						b.Fatal(err)
					}
					var last jetstream.Msg
					for m := range batch.Messages() {
						if policy == jetstream.AckExplicitPolicy {
							if err := m.Ack(); err != nil {
								b.Fatal(err)
							}
						}
						last = m
						got++
					}
					if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
						b.Fatal(err)
					}
					if policy == jetstream.AckAllPolicy && last != nil {
						if err := last.Ack(); err != nil {
							b.Fatal(err)
						}
					}
				}
				// Every ack reaches the server before the clock stops.
				if err := ns.Conn().Flush(); err != nil {
					b.Fatal(err)
				}
				waitAcked(b, cons, events)
				elapsed := time.Since(start)
				cpu := readCPU(b).since(cpu0)
				rates = append(rates, events/elapsed.Seconds())
				cpus = append(cpus, cpu.self/events*1e6)
				ns.Stop()
			}
			b.ReportMetric(median(rates), "msgs/s")
			b.ReportMetric(median(cpus), "cpu_µs/msg")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// waitAcked polls the consumer until the server has taken n acks.
func waitAcked(b *testing.B, cons jetstream.Consumer, n int) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		info, err := cons.Info(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if info.AckFloor.Stream >= uint64(n) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("ack floor %d of %d after a minute", info.AckFloor.Stream, n)
		}
		time.Sleep(time.Millisecond)
	}
}
