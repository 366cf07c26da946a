package aggregator_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cspwatch/cspwatch/internal/aggregator"
	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/testkit/natstest"
)

// BenchmarkLag offers 50,000 events/s to the stream for 4 s while an
// aggregator with the default batches (50,000 events or 1 s) stores them in
// ClickHouse, and reports the lag of each event from its JetStream publish
// to the commit of the INSERT holding it: the largest, the 99th percentile
// and the median (target: under 2 s). It covers the stream to ClickHouse;
// ingest's HTTP side is loadgen's. A single aggregator commits in stream
// order, so k rows stored means the first k events are.
func BenchmarkLag(b *testing.B) {
	const rate, seconds = 50_000, 4
	const n = rate * seconds
	var maxs, p99s, p50s, offered []float64
	for range b.N {
		ns := natstest.Start(b)
		ns.InstallStream()
		js := ns.JetStream()
		st := benchStore(b)
		reg := prometheus.NewRegistry()
		agg, err := aggregator.New(ns.Conn(), st, aggregator.DefaultConfig(), benchLog(), reg)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- agg.Run(ctx) }()

		// The messages are built beforehand: building them is ingest's work.
		msgs := make([]*nats.Msg, n)
		at := time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)
		for i := range msgs {
			e := fleetEvent(i, at)
			msgs[i] = nats.NewMsg(string(e.AppendSubject(nil)))
			msgs[i].Data = eventjson.AppendJSON(nil, &e)
			msgs[i].Header.Set(bus.MsgIDHeader, e.EventID)
		}
		// published[i] is when event i was handed to the connection, in ns
		// since start; the publisher paces itself to rate in 2 ms steps.
		published := make([]atomic.Int64, n)
		pubDone := make(chan error, 1)
		start := time.Now()
		go func() {
			for i, msg := range msgs {
				if due := start.Add(time.Duration(i) * time.Second / rate); time.Until(due) > 2*time.Millisecond {
					time.Sleep(time.Until(due))
				}
				published[i].Store(int64(time.Since(start)))
				// Stalling is the back-pressure that paces the publisher
				// when the server falls behind; it is not an error here.
				if _, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute)); err != nil {
					pubDone <- err
					return
				}
			}
			pubDone <- nil
		}()

		lags := make([]float64, 0, n)
		stored := 0
		deadline := start.Add(2 * time.Minute)
		for stored < n {
			if time.Now().After(deadline) {
				si, err := js.Stream(context.Background(), bus.StreamName)
				if err != nil {
					b.Fatal(err)
				}
				info, _ := si.Info(context.Background())
				ci, _ := si.Consumer(context.Background(), aggregator.DefaultConfig().Durable)
				cinfo, _ := ci.Info(context.Background())
				b.Fatalf("stored %d of %d events in 2 minutes; stream %+v; consumer pending %d ack pending %d redelivered %d delivered %+v ackfloor %+v",
					stored, n, info.State, cinfo.NumPending, cinfo.NumAckPending, cinfo.NumRedelivered, cinfo.Delivered, cinfo.AckFloor)
			}
			select {
			case err := <-pubDone:
				if err != nil {
					b.Fatal(err)
				}
				pubDone <- nil // for the check after the loop
			default:
			}
			time.Sleep(5 * time.Millisecond)
			k := int(rowsInserted(b, reg))
			now := int64(time.Since(start))
			for ; stored < k && stored < n; stored++ {
				lags = append(lags, time.Duration(now-published[stored].Load()).Seconds())
			}
		}
		if err := <-pubDone; err != nil {
			b.Fatal(err)
		}
		offered = append(offered, float64(n)/time.Duration(published[n-1].Load()).Seconds())
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		slices.Sort(lags)
		maxs = append(maxs, lags[len(lags)-1])
		p99s = append(p99s, lags[len(lags)*99/100])
		p50s = append(p50s, lags[len(lags)/2])
	}
	b.ReportMetric(median(offered), "offered_events/s")
	b.ReportMetric(median(maxs), "max_lag_s")
	b.ReportMetric(median(p99s), "p99_lag_s")
	b.ReportMetric(median(p50s), "p50_lag_s")
	b.ReportMetric(0, "ns/op")
}
