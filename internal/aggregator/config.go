package aggregator

import (
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cspwatch/cspwatch/internal/bus"
)

// Config tunes the aggregator.
type Config struct {
	// Stream and Durable name the stream and the shared durable consumer.
	Stream  string
	Durable string
	// BatchSize and BatchWait close a batch: whichever comes first, counted
	// from the batch's first message.
	BatchSize int
	BatchWait time.Duration
	// AckWait is the consumer's redelivery timer; InProgress is sent every
	// AckWait/3 for every message held and not yet acknowledged.
	AckWait time.Duration
	// MaxDeliver bounds deliveries of one message; -1 (the default) leaves
	// them unbounded, so that a crash loop or a long outage never gives up
	// on a valid event. With a bound, a message the server gives up on is
	// dead-lettered unless ClickHouse already holds its event.
	MaxDeliver int
	// DeadLetterReplicas is the dead-letter stream's replicas (the
	// install stream's, 3, in a JetStream cluster, so that a dead letter
	// outlives the node that holds it). The stream is created or updated
	// to it at start.
	DeadLetterReplicas int
	// MaxAckPending bounds un-acknowledged messages across all processes;
	// it must cover BatchSize times the processes times two (one batch
	// committing, one being written), better three (one being acknowledged).
	MaxAckPending int
	// BackoffMin and BackoffMax bound the exponential back-off (doubling,
	// jittered) between attempts to insert a batch, to bind the consumer and
	// to fetch: no delay is shorter than BackoffMin or longer than
	// BackoffMax.
	BackoffMin, BackoffMax time.Duration
	// CheckAll checks every chunk against ClickHouse before it is written
	// and drops the events already stored. Exactly-once does not depend on
	// it (storage is idempotent by event_id, see schema/001); it catches an
	// event_id published again outside the stream's duplicate window, which
	// ingest stamps with a new received_at and so a new sorting key, at the
	// cost of one query per chunk, which reads the event ids of the
	// CheckAllLookback before the chunk's events.
	CheckAll bool
	// CheckAllLookback is how far before a chunk's events CheckAll looks
	// for a first copy: the MDM server's retry horizon.
	CheckAllLookback time.Duration
	// ReadyTimeout is how long a ClickHouse ping may take before the
	// aggregator reports itself not ready; pings run this often too. A
	// frozen server accepts connections and answers nothing, so only a
	// deadline tells.
	ReadyTimeout time.Duration
	// ShutdownTimeout bounds the flush of the open batch on shutdown.
	ShutdownTimeout time.Duration

	// AfterInsert, when set, runs after a batch is inserted and before it is
	// acknowledged; an error stops Run without acknowledging, as a crash
	// would. Tests use it; it is never set in production.
	AfterInsert func(rows int) error
	// BeforeCommit, when set, runs after every block of a batch's INSERT was
	// written and before the INSERT is committed, with the rows written.
	// Tests use it to pause a replica while its INSERT is open; it is never
	// set in production.
	BeforeCommit func(rows int)
}

// DefaultConfig returns the defaults: batches of 50,000 events or 1 s.
func DefaultConfig() Config {
	return Config{
		Stream:             bus.StreamName,
		Durable:            "cspwatch-aggregator",
		BatchSize:          50_000,
		BatchWait:          time.Second,
		AckWait:            30 * time.Second,
		MaxDeliver:         -1,
		DeadLetterReplicas: 1,
		MaxAckPending:      400_000,
		BackoffMin:         100 * time.Millisecond,
		BackoffMax:         30 * time.Second,
		ShutdownTimeout:    30 * time.Second,
		ReadyTimeout:       5 * time.Second,
		// A week: longer than an MDM server retries a webhook.
		CheckAllLookback: 7 * 24 * time.Hour,
	}
}

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	switch {
	case c.Stream == "" || c.Durable == "":
		return errors.New("aggregator: stream and durable must be named")
	case c.BatchSize < 1:
		return fmt.Errorf("aggregator: batch size %d", c.BatchSize)
	case c.BatchWait <= 0:
		return fmt.Errorf("aggregator: batch wait %v", c.BatchWait)
	case c.AckWait < time.Second:
		return fmt.Errorf("aggregator: ack wait %v under 1s", c.AckWait)
	case c.DeadLetterReplicas < 1 || c.DeadLetterReplicas > 5:
		return fmt.Errorf("aggregator: dead-letter replicas %d, want 1 to 5", c.DeadLetterReplicas)
	case c.MaxDeliver != -1 && c.MaxDeliver < 2:
		return fmt.Errorf("aggregator: max deliver %d, want -1 (unbounded) or at least 2 so a crash between insert and ack is survivable", c.MaxDeliver)
	case c.ReadyTimeout <= 0:
		return fmt.Errorf("aggregator: ready timeout %v", c.ReadyTimeout)
	case c.CheckAllLookback < 0:
		return fmt.Errorf("aggregator: check-all lookback %v", c.CheckAllLookback)
	case c.MaxAckPending < 2*c.BatchSize:
		return fmt.Errorf("aggregator: max ack pending %d below two batches (%d)", c.MaxAckPending, 2*c.BatchSize)
	case c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin:
		return fmt.Errorf("aggregator: back-off %v..%v", c.BackoffMin, c.BackoffMax)
	case c.ShutdownTimeout <= 0:
		return fmt.Errorf("aggregator: shutdown timeout %v", c.ShutdownTimeout)
	}
	return nil
}

// ConsumerConfig is the durable consumer every aggregator process creates or
// updates at start; all processes must agree on it.
func (c Config) ConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       c.Durable,
		Description:   "cspwatch aggregator: install events into ClickHouse",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    c.MaxDeliver,
		MaxAckPending: c.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: bus.Subjects,
		// Large pulls: one request may ask for a whole batch.
		MaxRequestBatch: 0,
	}
}

// backoffJitter is the randomization factor of every back-off: each delay
// is drawn from ±25% of the exponential one, so that replicas that failed
// together (a ClickHouse or NATS restart) do not retry in step.
const backoffJitter = 0.25

// newBackOff returns the back-off of one retried operation: from
// BackoffMin, doubling, jittered by backoffJitter, and kept within
// [BackoffMin, BackoffMax] so that the knobs bound every delay as before the
// jitter. It is not safe for concurrent use: each retrier makes its own.
func (c Config) newBackOff() backoff.BackOff {
	return &boundedBackOff{
		exp: backoff.ExponentialBackOff{
			InitialInterval:     c.BackoffMin,
			RandomizationFactor: backoffJitter,
			Multiplier:          2,
			MaxInterval:         c.BackoffMax,
		},
		lo: c.BackoffMin,
		hi: c.BackoffMax,
	}
}

// boundedBackOff clamps a jittered exponential back-off: the library caps
// the interval before the jitter, so a delay could otherwise exceed
// BackoffMax by the jitter.
type boundedBackOff struct {
	exp    backoff.ExponentialBackOff
	lo, hi time.Duration
}

func (b *boundedBackOff) NextBackOff() time.Duration {
	return min(max(b.exp.NextBackOff(), b.lo), b.hi)
}

func (b *boundedBackOff) Reset() { b.exp.Reset() }

// retryForever is the option set of backoff.Retry for operations the
// aggregator retries until they succeed or ctx ends: no bound on tries or on
// the time spent (the library's default gives up after 15 minutes).
func retryForever(c Config, notify backoff.Notify) []backoff.RetryOption {
	return []backoff.RetryOption{
		backoff.WithBackOff(c.newBackOff()),
		backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(notify),
	}
}
