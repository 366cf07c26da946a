package aggregator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/bus"
)

// fetchChunk and maxFetchWait bound one pull request; a batch is filled by
// several.
const (
	fetchChunk   = 10_000
	maxFetchWait = 500 * time.Millisecond
)

// fetcher is the fetch stage: it binds the durable consumer and pulls
// chunks of messages from the stream.
type fetcher struct {
	cfg  Config
	js   jetstream.JetStream
	log  zerolog.Logger
	keep *keeper
}

// fetched is a chunk handed to the decoder, kept alive until the decoder
// releases it.
type fetched struct {
	msgs []jetstream.Msg
	keep *hold
}

// bind ensures the dead-letter stream and creates or updates the durable
// consumer, retrying with back-off until both succeed or ctx ends.
func (f *fetcher) bind(ctx context.Context) (jetstream.Consumer, error) {
	cons, err := backoff.Retry(ctx, func() (jetstream.Consumer, error) {
		dlq := bus.DeadLetterStreamConfig()
		dlq.Replicas = f.cfg.DeadLetterReplicas
		if _, err := bus.EnsureStream(ctx, f.js, dlq); err != nil {
			return nil, err
		}
		return f.js.CreateOrUpdateConsumer(ctx, f.cfg.Stream, f.cfg.ConsumerConfig())
	}, retryForever(f.cfg, func(err error, next time.Duration) {
		f.log.Warn().Err(err).Dur("retry_in", next).Msg("bind consumer")
	})...)
	if err != nil {
		return nil, fmt.Errorf("bind consumer: %w", err)
	}
	return cons, nil
}

// run pulls chunks of messages and hands them to out until ctx ends, then
// closes out. It runs ahead of decoding by one chunk, so that the server
// delivers the next chunk while the previous one is decoded. A chunk is kept
// alive from its fetch, so one that cannot be handed over (the inserter is
// stuck) does not run out of AckWait. The hand-over waits even after ctx
// ended: the decoder takes every chunk until out is closed, so the messages
// in hand join the last batch rather than waiting for AckWait to come back.
func (f *fetcher) run(ctx context.Context, cons jetstream.Consumer, out chan<- fetched) {
	defer close(out)
	bo := f.cfg.newBackOff()
	n := min(f.cfg.BatchSize, fetchChunk)
	// FetchMaxWait, not FetchContext: a fetch ended by its context drops
	// the messages already on their way (they come back as redeliveries
	// after AckWait), while an expiry the server enforces ends after the
	// last message it sent. The wait is capped so that a shutdown never
	// waits long and a trickle of events is handed over within half a
	// BatchWait.
	wait := max(min(f.cfg.BatchWait/2, maxFetchWait), time.Millisecond)
	// retry waits out a failed fetch; false means ctx ended.
	retry := func(err error) bool {
		delay := bo.NextBackOff()
		f.log.Warn().Err(err).Dur("retry_in", delay).Msg("fetch")
		if !sleep(ctx, delay) {
			return false
		}
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			if c, berr := f.bind(ctx); berr == nil {
				cons = c
			}
		}
		return true
	}
	for ctx.Err() == nil {
		fetchStart := time.Now()
		msgs, err := cons.Fetch(n, jetstream.FetchMaxWait(wait))
		if err != nil {
			if ctx.Err() != nil || !retry(err) {
				return
			}
			continue
		}
		var raw []jetstream.Msg
		for msg := range msgs.Messages() {
			raw = append(raw, msg)
		}
		if err := msgs.Error(); err != nil && ctx.Err() == nil &&
			!errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			if len(raw) == 0 {
				if !retry(err) {
					return
				}
				continue
			}
			f.log.Warn().Err(err).Int("messages", len(raw)).Msg("fetch ended early")
		}
		bo.Reset()
		if len(raw) > 0 {
			fetchedAt := time.Now()
			out <- fetched{msgs: raw, keep: f.keep.hold(chunk(raw))}
			f.log.Debug().Int("messages", len(raw)).Dur("fetch", fetchedAt.Sub(fetchStart)).Dur("hand_over", time.Since(fetchedAt)).Msg("chunk fetched")
		}
	}
}

// sleep waits d or until ctx ends, reporting whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
