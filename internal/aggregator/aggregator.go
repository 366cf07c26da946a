// Package aggregator moves install events from the JetStream stream
// CSPWATCH_INSTALL into ClickHouse: a durable pull consumer shared by any
// number of aggregator processes, batches closed on size or time, one native
// INSERT per batch, and acknowledgements only after ClickHouse accepted the
// batch. A batch's INSERT is streamed: each fetched chunk is sent as one block
// as soon as it is decoded, so ClickHouse receives a batch while the rest of
// it is still being fetched, and the INSERT is committed when the batch
// closes.
//
// Guarantees:
//   - At least once from JetStream, exactly once in every table, whatever
//     the timing. The aggregator does not try to prevent a second write of
//     an event: no check before an INSERT can, since a replica paused with
//     its INSERT open commits it whenever it resumes, and nats-server can
//     forget acknowledgements it lost in a crash and deliver them again as
//     first deliveries. Instead every table is idempotent by event_id
//     (schema/001-003): install_events is a ReplacingMergeTree on which a
//     repeated event is the identical row, and the rollups hold sets of
//     event hashes, so a row written twice counts once. A redelivered
//     message carries the same bytes, hence the same row. Rows whose event_id
//     repeats one earlier in the batch are dropped before writing; if any
//     step of the streamed INSERT fails, the whole batch is written again
//     from the rows held.
//   - Messages are acknowledged one by one, never with AckAll: processes
//     sharing one consumer receive interleaved sequences, and an AckAll by one
//     would acknowledge another's messages before they were inserted. The
//     acknowledgements of a committed batch are sent by their own goroutine
//     while the next batch is inserted.
//   - A message that does not decode (eventjson.Decode: every error permanent) is
//     published to the dead-letter stream and terminated on its first
//     delivery. Deliveries are unbounded by default; with a MaxDeliver bound,
//     a message the server gives up on is dead-lettered from its
//     max-deliveries advisory unless ClickHouse holds its event already.
//     `aggregator dlq replay` puts dead letters back on the stream.
//   - A batch is committed while the next one streams (on another
//     connection), and batches are committed and acknowledged in order. With
//     CheckAll, a chunk's existence check waits until the batch before it is
//     committed, so it sees every row this process stored.
//   - Every message held is kept alive with InProgress, a batch's from when
//     it opens until it is acknowledged (so neither AckWait nor MaxDeliver
//     runs out under a slow insert). While ClickHouse is down the aggregator
//     holds at most two batches (one retrying, the next waiting for it), one
//     decoded chunk of a third and one fetched chunk, stops fetching, and
//     retries with exponential back-off until the insert succeeds or the
//     context ends. In normal operation a batch being acknowledged may be
//     held too.
//   - A batch's INSERT stays open on one ClickHouse connection from its first
//     block until it closes (at most BatchWait while events flow); a server
//     that drops it as idle fails the batch, which is then retried as above.
package aggregator

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/store"
)

// Store is what the aggregator needs of ClickHouse (*store.Store).
type Store interface {
	BeginInsert(ctx context.Context) (store.Insert, error)
	ExistingIDs(ctx context.Context, rows []store.Row, lookback time.Duration) (map[string]struct{}, error)
	Ping(ctx context.Context) error
}

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
	// AckWait/3 for batches held longer than that.
	AckWait time.Duration
	// MaxDeliver bounds deliveries of one message; -1 (the default) leaves
	// them unbounded, so that a crash loop or a long outage never gives up
	// on a valid event. With a bound, a message the server gives up on is
	// dead-lettered unless ClickHouse already holds its event.
	MaxDeliver int
	// MaxAckPending bounds un-acknowledged messages across all processes;
	// it must cover BatchSize times the processes times two (one batch
	// committing, one streaming), better three (one being acknowledged).
	MaxAckPending int
	// BackoffMin and BackoffMax bound the exponential back-off between insert
	// attempts.
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
	// BeforeCommit, when set, runs after every block of a streamed batch was
	// written and before its INSERT is committed. Tests use it to pause a
	// replica while its INSERT is open; it is never set in production.
	BeforeCommit func(rows int)
}

// DefaultConfig returns the defaults: batches of 50,000 events or 1 s.
func DefaultConfig() Config {
	return Config{
		Stream:          bus.StreamName,
		Durable:         "cspwatch-aggregator",
		BatchSize:       50_000,
		BatchWait:       time.Second,
		AckWait:         30 * time.Second,
		MaxDeliver:      -1,
		MaxAckPending:   400_000,
		BackoffMin:      100 * time.Millisecond,
		BackoffMax:      30 * time.Second,
		ShutdownTimeout: 30 * time.Second,
		ReadyTimeout:    5 * time.Second,
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

// Aggregator runs the consume, batch, insert, acknowledge loop.
type Aggregator struct {
	cfg   Config
	nc    *nats.Conn
	js    jetstream.JetStream
	store Store
	log   zerolog.Logger
	m     *metrics

	ready    atomic.Bool
	insertOK atomic.Bool
	pingOK   atomic.Bool

	// decoders and results are the filler's scratch: one decoder per
	// decoding worker, whose intern tables then last across batches, and
	// the per-message outcome of a chunk.
	decoders []eventjson.Decoder
	results  []decodeResult
	// spare returns acknowledged batches to the filler, so that a batch
	// reuses the rows of an earlier one instead of allocating and growing
	// BatchSize rows (about 0.5 KB each) afresh.
	spare chan *batch
	// seen is the inserter's set for dropping repeated event_ids.
	seen map[string]struct{}
}

// New builds an aggregator over a NATS connection and a store. reg receives
// the metrics; nil registers nothing.
func New(nc *nats.Conn, st Store, cfg Config, log zerolog.Logger, reg prometheus.Registerer) (*Aggregator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	a := &Aggregator{cfg: cfg, nc: nc, js: js, store: st, log: log, m: newMetrics(reg), spare: make(chan *batch, 2)}
	a.insertOK.Store(true)
	a.pingOK.Store(true)
	return a, nil
}

// Ready reports whether the consumer is bound, NATS connected, the last
// insert attempt succeeded and ClickHouse answered the last ping within
// ReadyTimeout.
func (a *Aggregator) Ready() bool {
	return a.ready.Load() && a.insertOK.Load() && a.pingOK.Load() && a.nc.IsConnected()
}

// watchClickHouse pings ClickHouse every ReadyTimeout until ctx ends. An
// insert that hangs on a frozen server fails no attempt, so without this the
// aggregator would stay ready for as long as the server is frozen.
func (a *Aggregator) watchClickHouse(ctx context.Context) {
	t := time.NewTicker(a.cfg.ReadyTimeout)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, a.cfg.ReadyTimeout)
		err := a.store.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		ok := err == nil
		up := 0.0
		if ok {
			up = 1
		}
		a.m.clickhouseUp.Set(up)
		if ok != a.pingOK.Swap(ok) {
			if ok {
				a.log.Info().Msg("clickhouse answers again")
			} else {
				a.log.Warn().Err(err).Dur("timeout", a.cfg.ReadyTimeout).Msg("clickhouse ping: not ready")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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

// batch is a batch of decoded events and the messages they came from. Of a
// message it keeps only the reply subject, which is all an acknowledgement
// needs: the message itself (payload, headers) can go as soon as it is
// decoded. rows has capacity BatchSize from the start and is never
// reallocated, because the inserter compacts the rows it was handed while
// the filler appends behind them.
type batch struct {
	// stopKeep stops the keepAlive that runs from the batch's opening until
	// it is acknowledged or given up.
	stopKeep func()
	// replies has capacity BatchSize from the start too: keepAlive reads
	// replies[:live] while the filler appends.
	replies  []string
	live     atomic.Int64
	rows     []store.Row
	opened   time.Time
	inserted int // rows written, after dropping duplicates
}

// segment is what the filler decoded into a batch from one fetched chunk:
// rows[lo:] are new. It is handed to the inserter at once, so that
// ClickHouse receives a block while the next chunk is fetched and decoded.
// The last segment of a batch closes it and may bring no rows.
type segment struct {
	b    *batch
	rows []store.Row // the batch's rows up to the end of this segment
	lo   int
	last bool
}

// Run consumes until ctx ends, then flushes and acknowledges the open batch
// (bounded by ShutdownTimeout) and returns nil. It returns an error only when
// it cannot bind the consumer before ctx ends, or from AfterInsert.
func (a *Aggregator) Run(ctx context.Context) error {
	cons, err := a.bind(ctx)
	if err != nil {
		return err
	}
	stopAdv, err := a.watchMaxDeliveries()
	if err != nil {
		return err
	}
	defer stopAdv()
	a.ready.Store(true)
	defer a.ready.Store(false)
	lagCtx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	go a.watchLag(lagCtx, cons, 5*time.Second)
	go a.watchClickHouse(lagCtx)

	// Four stages: the fetcher pulls chunks, the filler decodes each into
	// the open batch, the inserter (this goroutine) streams each decoded
	// segment into the batch's INSERT and commits it when the batch closes,
	// the acker acknowledges what was committed. Each runs while the next
	// works, so throughput is the slowest stage's, not their sum, and
	// ClickHouse receives a batch while it is still being fetched. The
	// channels are unbuffered, so while ClickHouse is down at most one batch
	// (retrying), one decoded segment of the next and one fetched chunk are
	// held, all kept alive with InProgress, and nothing more is fetched.
	segs := make(chan segment)
	chunks := make(chan []jetstream.Msg)
	acks := make(chan *batch)
	acked := make(chan struct{})
	fctx, stopFill := context.WithCancel(ctx)
	defer stopFill()
	go a.fetch(fctx, cons, chunks)
	go func() {
		defer close(segs)
		a.fill(chunks, segs)
	}()
	go func() {
		defer close(acked)
		for b := range acks {
			a.ack(b)
		}
	}()
	// The committer commits closed batches in order, retries them while
	// ClickHouse fails and hands them to the acker, while this goroutine
	// streams the next batch on another connection. After an error (only
	// AfterInsert returns one) it commits nothing more.
	commits := make(chan *stream)
	committed := make(chan struct{})
	var runErr error // the committer's, read after committed is closed
	var failed atomic.Bool
	go func() {
		defer close(committed)
		for s := range commits {
			if runErr == nil {
				if runErr = a.finish(ctx, s, acks); runErr != nil {
					failed.Store(true)
					stopFill()
				}
			} else {
				s.discard() // leave them un-acknowledged for redelivery
				s.b.stopKeep()
			}
			close(s.done)
			// Nothing reads s but the next batch's existence check, which
			// needs only s.done: drop what s holds, so that each stream does
			// not keep its predecessor (and its driver buffers) alive, and
			// so on back to the first batch.
			s.release()
		}
	}()
	var cur, prev *stream
	for seg := range segs {
		if failed.Load() {
			if cur != nil {
				cur.discard()
				cur = nil
			}
			if seg.last {
				seg.b.stopKeep() // drain: leave them un-acknowledged for redelivery
			}
			continue
		}
		if cur == nil {
			cur = a.open(ctx, seg.b, prev)
		}
		a.write(cur, seg)
		if seg.last {
			commits <- cur // waits while the committer is busy with prev
			prev, cur = cur, nil
		}
	}
	if cur != nil { // the filler always closes its batch; this is a guard only
		cur.discard()
	}
	close(commits)
	<-committed
	close(acks)
	<-acked
	if runErr == nil {
		// Acks are fire-and-forget; a flush makes sure the server has them
		// before a graceful exit. Acks it could not confirm cost no data:
		// their messages come back and the existence check drops them.
		if err := a.nc.FlushTimeout(5 * time.Second); err != nil {
			a.log.Warn().Err(err).Msg("acknowledgements not confirmed at exit; their messages will be redelivered and deduplicated")
		}
	}
	return runErr
}

func (a *Aggregator) bind(ctx context.Context) (jetstream.Consumer, error) {
	delay := a.cfg.BackoffMin
	for {
		_, err := bus.EnsureStream(ctx, a.js, bus.DeadLetterStreamConfig())
		if err == nil {
			var cons jetstream.Consumer
			cons, err = a.js.CreateOrUpdateConsumer(ctx, a.cfg.Stream, a.cfg.ConsumerConfig())
			if err == nil {
				return cons, nil
			}
		}
		a.log.Warn().Err(err).Dur("retry_in", delay).Msg("bind consumer")
		if !sleep(ctx, delay) {
			return nil, fmt.Errorf("bind consumer: %w", err)
		}
		delay = min(2*delay, a.cfg.BackoffMax)
	}
}

// fetchChunk and maxFetchWait bound one pull request; a batch is filled by
// several.
const (
	fetchChunk   = 10_000
	maxFetchWait = 500 * time.Millisecond
)

// fetch pulls chunks of messages and hands them to out until ctx ends, then
// closes out. It runs ahead of decoding by one chunk, so that the server
// delivers the next chunk while the previous one is decoded; a chunk that
// cannot be handed over (the inserter is stuck) is kept alive with
// InProgress.
func (a *Aggregator) fetch(ctx context.Context, cons jetstream.Consumer, out chan<- []jetstream.Msg) {
	defer close(out)
	delay := a.cfg.BackoffMin
	n := min(a.cfg.BatchSize, fetchChunk)
	// FetchMaxWait, not FetchContext: a fetch ended by its context drops
	// the messages already on their way (they come back as redeliveries
	// after AckWait), while an expiry the server enforces ends after the
	// last message it sent. The wait is capped so that a shutdown never
	// waits long and a trickle of events is handed over within half a
	// BatchWait.
	wait := max(min(a.cfg.BatchWait/2, maxFetchWait), time.Millisecond)
	backoff := func(err error) bool {
		a.log.Warn().Err(err).Dur("retry_in", delay).Msg("fetch")
		if !sleep(ctx, delay) {
			return false
		}
		delay = min(2*delay, a.cfg.BackoffMax)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			if c, berr := a.bind(ctx); berr == nil {
				cons = c
			}
		}
		return true
	}
	for ctx.Err() == nil {
		fetchStart := time.Now()
		msgs, err := cons.Fetch(n, jetstream.FetchMaxWait(wait))
		if err != nil {
			if ctx.Err() != nil || !backoff(err) {
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
				if !backoff(err) {
					return
				}
				continue
			}
			a.log.Warn().Err(err).Int("messages", len(raw)).Msg("fetch ended early")
		}
		delay = a.cfg.BackoffMin
		if len(raw) > 0 {
			fetched := time.Now()
			a.handOver(out, raw)
			a.log.Debug().Int("messages", len(raw)).Dur("fetch", fetched.Sub(fetchStart)).Dur("hand_over", time.Since(fetched)).Msg("chunk fetched")
		}
	}
}

// handOver sends raw to out, keeping its messages alive while it waits. It
// waits even after ctx ended: the filler takes every chunk until out is
// closed, so the messages in hand join the last batch rather than waiting
// for AckWait to come back.
func (a *Aggregator) handOver(out chan<- []jetstream.Msg, raw []jetstream.Msg) {
	t := time.NewTicker(a.cfg.AckWait / 3)
	defer t.Stop()
	for {
		select {
		case out <- raw:
			return
		case <-t.C:
			for _, m := range raw {
				_ = m.InProgress() // a lost one is covered by the redelivery check
			}
		}
	}
}

// fill decodes fetched chunks into batches and hands each decoded part of
// a batch to out as a segment; the last segment of a batch closes it: when
// it holds BatchSize messages or BatchWait after its first. When chunks
// closes (ctx ended) it closes the open batch and returns.
func (a *Aggregator) fill(chunks <-chan []jetstream.Msg, out chan<- segment) {
	var cur *batch
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var deadline <-chan time.Time
	// hand gives seg to the inserter. rest is the part of the current chunk
	// not yet in a batch; while the inserter is busy, it is kept alive (the
	// batch's messages are, by the batch's keepAlive).
	hand := func(seg segment, rest []jetstream.Msg) {
		select {
		case out <- seg:
			return
		default:
		}
		t := time.NewTicker(a.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case out <- seg:
				return
			case <-t.C:
				for _, m := range rest {
					_ = m.InProgress() // a lost one is covered by the redelivery check
				}
			}
		}
	}
	// closeBatch hands the last segment of cur, with rows[lo:] new.
	closeBatch := func(lo int, rest []jetstream.Msg) {
		timer.Stop()
		deadline = nil
		b := cur
		cur = nil
		if len(b.replies) == 0 {
			b.stopKeep()
			a.recycle(b) // everything in it was dead-lettered: nothing was handed over
			return
		}
		a.log.Debug().Int("messages", len(b.replies)).Dur("filled_in", time.Since(b.opened)).Msg("batch closed")
		hand(segment{b: b, rows: b.rows, lo: lo, last: true}, rest)
	}
	for {
		select {
		case raw, ok := <-chunks:
			if !ok {
				if cur != nil {
					closeBatch(len(cur.rows), nil)
				}
				return
			}
			for len(raw) > 0 {
				if cur == nil {
					cur = a.newBatch()
					timer.Reset(a.cfg.BatchWait)
					deadline = timer.C
				}
				take := min(len(raw), a.cfg.BatchSize-len(cur.replies))
				lo := len(cur.rows)
				a.addAll(context.Background(), cur, raw[:take])
				raw = raw[take:]
				switch {
				case len(cur.replies) >= a.cfg.BatchSize:
					closeBatch(lo, raw)
				case len(cur.rows) > lo:
					hand(segment{b: cur, rows: cur.rows, lo: lo}, raw)
				}
			}
		case <-deadline:
			if cur != nil {
				closeBatch(len(cur.rows), nil)
			}
		}
	}
}

// newBatch opens a batch, reusing an acknowledged one when there is one,
// and starts keeping its messages alive.
func (a *Aggregator) newBatch() *batch {
	var b *batch
	select {
	case b = <-a.spare:
	default:
		b = &batch{replies: make([]string, 0, a.cfg.BatchSize), rows: make([]store.Row, 0, a.cfg.BatchSize)}
	}
	b.opened = time.Now()
	b.stopKeep = a.keepAlive(b)
	return b
}

// recycle offers an acknowledged batch for reuse, dropping what it
// references so that nothing of it stays reachable.
func (a *Aggregator) recycle(b *batch) {
	clear(b.replies)
	clear(b.rows)
	b.stopKeep = nil
	b.replies, b.rows = b.replies[:0], b.rows[:0]
	b.live.Store(0)
	b.inserted = 0
	select {
	case a.spare <- b:
	default:
	}
}

// ackSequence reads the stream sequence and the delivery count from a
// JetStream reply subject, without the allocation and string splitting of
// jetstream.Msg.Metadata, which it agrees with (TestAckSequenceMatchesMetadata):
//
//	$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>
//	$JS.ACK.<domain>.<acc hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>[.<token>...]
//
// ok is false for anything else; the caller then asks Metadata, which says
// what is wrong.
func ackSequence(reply string) (seq, delivered uint64, ok bool) {
	const prefix = "$JS.ACK."
	if len(reply) <= len(prefix) || reply[:len(prefix)] != prefix {
		return 0, 0, false
	}
	// Tokens after the prefix: the v1 form has 7, v2 9 or more.
	var starts [12]int
	n := 0
	start := len(prefix)
	for i := start; i <= len(reply); i++ {
		if i == len(reply) || reply[i] == '.' {
			if n < len(starts) {
				starts[n] = start
			}
			n++
			start = i + 1
		}
	}
	var first int // token index of <delivered>
	switch {
	case n == 7:
		first = 2
	case n >= 9:
		first = 4
	default:
		return 0, 0, false
	}
	token := func(k int) string {
		end := len(reply)
		if k+1 < n && k+1 < len(starts) {
			end = starts[k+1] - 1
		}
		return reply[starts[k]:end]
	}
	delivered, ok1 := parseUint(token(first))
	seq, ok2 := parseUint(token(first + 1))
	return seq, delivered, ok1 && ok2
}

// parseUint reads a decimal uint64.
func parseUint(s string) (uint64, bool) {
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// decodeResult is what decoding said of one fetched message.
type decodeResult struct {
	err       error
	delivered uint64
}

// minPerWorker keeps small fetches on one goroutine.
const minPerWorker = 512

// addAll decodes msgs into b in their order, dead-lettering those that do
// not decode and counting redeliveries. Events are decoded in place into the batch's rows, spread over
// GOMAXPROCS goroutines, each with its own eventjson.Decoder. The rows before
// len(b.rows) belong to the inserter and are not touched.
func (a *Aggregator) addAll(ctx context.Context, b *batch, msgs []jetstream.Msg) {
	if len(msgs) == 0 {
		return
	}
	base := len(b.rows)
	if base+len(msgs) > cap(b.rows) || len(b.replies)+len(msgs) > cap(b.replies) {
		panic("aggregator: batch over BatchSize") // fill never takes more
	}
	b.rows = b.rows[:base+len(msgs)]
	rows := b.rows[base:]
	if cap(a.results) < len(msgs) {
		a.results = make([]decodeResult, len(msgs))
	}
	res := a.results[:len(msgs)]
	workers := min(runtime.GOMAXPROCS(0), (len(msgs)+minPerWorker-1)/minPerWorker)
	if len(a.decoders) < workers {
		a.decoders = append(a.decoders, make([]eventjson.Decoder, workers-len(a.decoders))...)
	}
	var wg sync.WaitGroup
	per := (len(msgs) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*per, min((w+1)*per, len(msgs))
		dec := &a.decoders[w]
		work := func() {
			for i := lo; i < hi; i++ {
				seq, delivered, ok := ackSequence(msgs[i].Reply())
				if !ok {
					md, err := msgs[i].Metadata()
					if err != nil {
						rows[i] = store.Row{}
						res[i] = decodeResult{err: fmt.Errorf("metadata: %w", err)}
						continue
					}
					seq, delivered = md.Sequence.Stream, md.NumDelivered
				}
				rows[i].Seq = seq
				res[i] = decodeResult{delivered: delivered, err: dec.DecodeInto(msgs[i].Data(), &rows[i].Event)}
			}
		}
		if w == workers-1 {
			work() // the last share runs here rather than in a new goroutine
		} else {
			wg.Go(work)
		}
	}
	wg.Wait()
	kept := base
	for i := range msgs {
		if err := res[i].err; err != nil {
			a.deadLetter(ctx, msgs[i], rows[i].Seq, err)
			continue
		}
		if res[i].delivered > 1 {
			a.m.redeliveries.Inc()
		}
		if kept != base+i {
			b.rows[kept] = b.rows[base+i]
		}
		b.replies = append(b.replies, msgs[i].Reply())
		kept++
	}
	clear(b.rows[kept:])
	b.rows = b.rows[:kept]
	b.live.Store(int64(len(b.replies)))
	clear(res)
}

// stream is the inserter's state of the batch it is streaming into
// ClickHouse.
type stream struct {
	b    *batch
	rows []store.Row // the batch's rows handed over so far; rows[:kept] remain after dropping duplicates
	kept int
	// ctx follows Run's context until it ends, then lives ShutdownTimeout
	// longer: the last batch gets a bounded chance to be stored and
	// acknowledged.
	ctx     context.Context
	cancel  func()
	stop    func() bool
	ins     store.Insert // nil until the first block
	written int          // rows written to ins
	took    time.Duration
	err     error // the first error: nothing more is streamed, and finish retries the whole batch
	// prev is the batch handed to the committer before this one, until its
	// commit is known to be over; done is closed when this one's is.
	prev *stream
	done chan struct{}
}

// open starts streaming b; prev is the batch before it, which may still be
// committing.
func (a *Aggregator) open(ctx context.Context, b *batch, prev *stream) *stream {
	ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(a.cfg.ShutdownTimeout, cancel) })
	if a.seen == nil {
		a.seen = make(map[string]struct{}, min(a.cfg.BatchSize, 1<<16))
	}
	clear(a.seen)
	return &stream{b: b, ctx: ictx, cancel: cancel, stop: stop, prev: prev, done: make(chan struct{})}
}

// release drops the references of a committed (or abandoned) stream.
func (s *stream) release() {
	s.prev, s.ins, s.rows, s.b = nil, nil, nil, nil
}

// waitPrev waits until the batch before s is committed (or given up), so
// that an existence check sees every row this process stored before.
func (s *stream) waitPrev() {
	if s.prev != nil {
		<-s.prev.done
		s.prev = nil
	}
}

// discard drops s without committing: its messages are left to be
// redelivered. A closed batch's keepAlive is the caller's to stop.
func (s *stream) discard() {
	if s.ins != nil {
		s.ins.Abort()
		s.ins = nil
	}
	s.stop()
	s.cancel()
}

// write drops the repeated event_ids of seg's new rows (an event published
// twice outside the duplicate window: the first stays), then, when some
// message of them was delivered before (or CheckAll), the rows ClickHouse
// already holds, and writes the rest as one block of the batch's INSERT.
// Both checks run before any row of the segment is written. After an
// error it only compacts: finish retries the batch.
func (a *Aggregator) write(s *stream, seg segment) {
	rows := seg.rows
	from := s.kept
	for i := seg.lo; i < len(rows); i++ {
		id := rows[i].EventID
		if _, dup := a.seen[id]; dup {
			continue
		}
		a.seen[id] = struct{}{}
		if s.kept != i {
			rows[s.kept] = rows[i]
		}
		s.kept++
	}
	s.rows = rows
	if s.err != nil || s.kept == from {
		return
	}
	start := time.Now()
	defer func() { s.took += time.Since(start) }()
	fresh := rows[from:s.kept]
	if a.cfg.CheckAll {
		s.waitPrev()
		var err error
		if fresh, err = a.dropExisting(s.ctx, fresh); err != nil {
			s.err = err
			return
		}
		s.kept = from + len(fresh)
		if len(fresh) == 0 {
			return
		}
	}
	if s.ins == nil {
		ins, err := a.store.BeginInsert(s.ctx)
		if err != nil {
			s.err = err
			return
		}
		s.ins = ins
	}
	if err := s.ins.Write(fresh); err != nil {
		s.err = err
		s.ins.Abort()
		s.ins = nil
		return
	}
	s.written += len(fresh)
}

// finish commits the closed batch of s (retrying the whole batch until it is
// stored or the context ends), then hands it to acks for acknowledgement.
// The committer runs it, one batch after the other.
func (a *Aggregator) finish(ctx context.Context, s *stream, acks chan<- *batch) error {
	b := s.b
	defer s.cancel()
	defer s.stop()
	handed := false
	defer func() {
		if !handed {
			b.stopKeep()
		}
	}()
	rows := s.rows[:s.kept]
	if s.err == nil && s.ins != nil {
		if a.cfg.BeforeCommit != nil {
			a.cfg.BeforeCommit(s.written)
		}
		start := time.Now()
		if err := s.ins.Commit(); err != nil {
			s.err = err
		} else {
			a.inserted(s.written, s.took+time.Since(start))
			a.log.Debug().Int("rows", s.written).Dur("writing", s.took).Dur("commit", time.Since(start)).Msg("batch committed")
		}
	}
	if s.err != nil {
		if s.ins != nil {
			s.ins.Abort()
		}
		a.m.batches.WithLabelValues("failed").Inc()
		// The streamed insert failed: retry the batch from the rows held,
		// after checking what of it may have been stored.
		if err := a.retry(s.ctx, &rows, s.err); err != nil {
			return nil // shutdown; retry logged it
		}
	}
	a.insertOK.Store(true)
	if a.cfg.AfterInsert != nil {
		if err := a.cfg.AfterInsert(len(rows)); err != nil {
			return err
		}
	}
	b.inserted = len(rows)
	acks <- b
	handed = true
	return nil
}

// retry inserts rows after the insert attempt that failed with err, with
// exponential back-off, until it succeeds or ctx ends (then it returns
// ctx's error). An insert that failed may still have stored some rows, or
// all of them if only the answer was lost, so every attempt first drops the
// rows ClickHouse holds; rows shrinks to what the last attempt inserted.
func (a *Aggregator) retry(ctx context.Context, rows *[]store.Row, err error) error {
	delay := a.cfg.BackoffMin
	for attempt := 1; ; attempt++ {
		a.insertOK.Store(false)
		class := "retryable"
		if !store.Retryable(err) {
			class = "permanent"
		}
		a.m.insertErrors.WithLabelValues(class).Inc()
		ev := a.log.Warn()
		if class == "permanent" {
			ev = a.log.Error()
		}
		ev.Err(err).Str("class", class).Int("attempt", attempt).Int("rows", len(*rows)).Dur("retry_in", delay).Msg("insert batch")
		if !sleep(ctx, delay) {
			a.log.Error().Int("rows", len(*rows)).Msg("shutdown: batch not inserted; it will be redelivered")
			return ctx.Err()
		}
		delay = min(2*delay, a.cfg.BackoffMax)
		if err = a.insert(ctx, rows); err == nil {
			return nil
		}
	}
}

// The JetStream acknowledgement bodies, published to a message's reply
// subject as jetstream.Msg's Ack and InProgress do (fire and forget).
var (
	ackAck      = []byte("+ACK")
	ackProgress = []byte("+WPI")
)

// ack acknowledges the messages of an inserted batch, stops keeping them
// alive and offers the batch for reuse.
func (a *Aggregator) ack(b *batch) {
	start := time.Now()
	for _, reply := range b.replies {
		if err := a.nc.Publish(reply, ackAck); err != nil {
			// The message will be redelivered and found in ClickHouse.
			a.log.Warn().Err(err).Msg("ack")
		}
	}
	b.stopKeep()
	a.m.acked.Add(float64(len(b.replies)))
	a.log.Debug().Int("messages", len(b.replies)).Int("rows", b.inserted).Dur("held", time.Since(b.opened)).
		Dur("ack", time.Since(start)).Msg("batch stored and acknowledged")
	a.recycle(b)
}

// insert writes rows in one INSERT, with CheckAll first dropping those
// ClickHouse already holds. It shrinks *rows to what remains to be inserted.
// Rows a failed attempt stored are written again otherwise: storage is
// idempotent by event_id.
func (a *Aggregator) insert(ctx context.Context, rows *[]store.Row) error {
	kept := *rows
	if a.cfg.CheckAll {
		var err error
		if kept, err = a.dropExisting(ctx, kept); err != nil {
			return err
		}
	}
	*rows = kept
	if len(kept) == 0 {
		return nil
	}
	start := time.Now()
	ins, err := a.store.BeginInsert(ctx)
	if err == nil {
		for i := 0; i < len(kept) && err == nil; i += store.InsertBlockRows {
			err = ins.Write(kept[i:min(i+store.InsertBlockRows, len(kept))])
		}
		if err == nil {
			err = ins.Commit()
		} else {
			ins.Abort()
		}
	}
	if err != nil {
		a.m.batches.WithLabelValues("failed").Inc()
		return err
	}
	a.inserted(len(kept), time.Since(start))
	return nil
}

// inserted counts a committed insert of n rows that took d.
func (a *Aggregator) inserted(n int, d time.Duration) {
	a.m.insertSeconds.Observe(d.Seconds())
	a.m.batches.WithLabelValues("inserted").Inc()
	a.m.rows.Add(float64(n))
}

// dropExisting drops the rows whose event_id ClickHouse already holds,
// compacting rows in place, and returns what remains.
func (a *Aggregator) dropExisting(ctx context.Context, rows []store.Row) ([]store.Row, error) {
	if len(rows) == 0 {
		return rows, nil
	}
	have, err := a.store.ExistingIDs(ctx, rows, a.cfg.CheckAllLookback)
	if err != nil {
		return nil, err
	}
	if len(have) == 0 {
		return rows, nil
	}
	kept := rows[:0]
	for _, r := range rows {
		if _, dup := have[r.EventID]; !dup {
			kept = append(kept, r)
		}
	}
	clear(rows[len(kept):])
	a.m.duplicates.Add(float64(len(rows) - len(kept)))
	return kept, nil
}

// keepAlive sends InProgress for every message of b every AckWait/3 until
// stopped, so that a slow insert or a ClickHouse outage neither redelivers
// the batch to another process nor spends its deliveries. It starts when the
// batch opens and covers each message from when the filler adds it.
func (a *Aggregator) keepAlive(b *batch) (stop func()) {
	replies := b.replies[:cap(b.replies)] // never reallocated: see batch
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(a.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, reply := range replies[:b.live.Load()] {
					if err := a.nc.Publish(reply, ackProgress); err != nil {
						// A lost one is covered by the redelivery check.
						a.log.Debug().Err(err).Msg("in progress")
					}
				}
				a.m.inProgress.Inc()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

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
