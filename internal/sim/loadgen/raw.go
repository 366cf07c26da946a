package loadgen

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/bus"
)

// RawConfig configures the raw JetStream publish baseline.
type RawConfig struct {
	URL        string
	Duration   time.Duration
	Size       int // payload bytes
	Publishers int // connections publishing at once
	MaxPending int // async publishes in flight per publisher
	Persist    string
}

// RawResult is what the raw baseline achieved.
type RawResult struct {
	Acked, Failed int64
	Elapsed       time.Duration
}

// Rate is acknowledged messages per second.
func (r RawResult) Rate() float64 { return float64(r.Acked) / r.Elapsed.Seconds() }

// RawStream is the stream the baseline publishes into; it is deleted after.
const RawStream = "CSPWATCH_BENCH_RAW"

// RawPublish measures JetStream async publishing of Size-byte messages, each
// with a unique Nats-Msg-Id, into one file-stored stream configured like the
// install stream (one-hour duplicate window, default persistence), for
// Duration. This is the ceiling ingest's events/s is compared with.
func RawPublish(ctx context.Context, cfg RawConfig) (RawResult, error) {
	if cfg.Size <= 0 || cfg.Duration <= 0 || cfg.Publishers <= 0 || cfg.MaxPending <= 0 {
		return RawResult{}, errors.New("raw publish: size, duration, publishers and max pending must be positive")
	}
	nc, err := nats.Connect(cfg.URL)
	if err != nil {
		return RawResult{}, fmt.Errorf("raw publish: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return RawResult{}, fmt.Errorf("raw publish: %w", err)
	}
	sc := bus.DefaultStreamConfig()
	sc.Name, sc.Subjects = RawStream, []string{"cspwatch.bench.raw"}
	if cfg.Persist != "" {
		sc.Persist = cfg.Persist
	}
	js.DeleteStream(ctx, RawStream) // a leftover of an interrupted run
	if _, err := bus.EnsureStream(ctx, js, sc); err != nil {
		return RawResult{}, fmt.Errorf("raw publish: %w", err)
	}
	defer js.DeleteStream(context.Background(), RawStream)

	payload := make([]byte, cfg.Size)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	var acked, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(cfg.Duration)
	for p := 0; p < cfg.Publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc, err := nats.Connect(cfg.URL)
			if err != nil {
				failed.Add(1)
				return
			}
			defer pc.Close()
			pjs, err := jetstream.New(pc,
				jetstream.WithPublishAsyncMaxPending(cfg.MaxPending),
				jetstream.WithPublishAsyncAckHandler(func(jetstream.JetStream, *nats.Msg, *jetstream.PubAck) { acked.Add(1) }),
				jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
			if err != nil {
				failed.Add(1)
				return
			}
			prefix := strconv.Itoa(p) + "-"
			for i := 0; ; i++ {
				if i%256 == 0 && (time.Now().After(stop) || ctx.Err() != nil) {
					break
				}
				m := &nats.Msg{Subject: "cspwatch.bench.raw", Data: payload,
					Header: nats.Header{bus.MsgIDHeader: []string{prefix + strconv.Itoa(i)}}}
				if _, err := pjs.PublishMsgAsync(m, jetstream.WithStallWait(5*time.Second)); err != nil {
					failed.Add(1)
				}
			}
			select {
			case <-pjs.PublishAsyncComplete():
			case <-time.After(10 * time.Second):
			}
		}()
	}
	wg.Wait()
	return RawResult{Acked: acked.Load(), Failed: failed.Load(), Elapsed: time.Since(start)}, nil
}
