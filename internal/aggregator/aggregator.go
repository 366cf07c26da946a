// Package aggregator moves install events from the JetStream stream
// CSPWATCH_INSTALL into ClickHouse: a durable pull consumer shared by any
// number of aggregator processes, batches closed on size or time, one native
// INSERT per batch, and acknowledgements only after ClickHouse accepted the
// batch.
//
// Guarantees:
//   - At least once from JetStream, exactly once into install_events: a batch
//     holding a redelivered message (or one whose earlier insert attempt
//     failed) is first checked against ClickHouse by event_id, and the rows
//     already stored are dropped; duplicates within a batch are dropped too.
//     The rollups are fed by materialized views of the inserted rows only, so
//     they never count a replay twice.
//   - Messages are acknowledged one by one, never with AckAll: processes
//     sharing one consumer receive interleaved sequences, and an AckAll by one
//     would acknowledge another's messages before they were inserted. The
//     acknowledgements of an inserted batch are sent by their own goroutine
//     while the next batch is inserted.
//   - A message that does not decode (event.Decode: every error permanent) is
//     published to the dead-letter stream and terminated at once; messages
//     that exhausted MaxDeliver for any other reason are dead-lettered from
//     the server's max-deliveries advisory.
//   - While ClickHouse is down the aggregator holds at most two batches and
//     one fetched chunk, keeps them alive with InProgress (so neither AckWait nor MaxDeliver
//     runs out under them), stops fetching, and retries with exponential
//     back-off until the insert succeeds or the context ends. In normal
//     operation a third batch, inserted and being acknowledged, may be held
//     too.
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
	"github.com/cspwatch/cspwatch/internal/event"
	"github.com/cspwatch/cspwatch/internal/store"
)

// Store is what the aggregator needs of ClickHouse (*store.Store).
type Store interface {
	InsertRows(ctx context.Context, rows []store.Row) error
	ExistingIDs(ctx context.Context, rows []store.Row) (map[string]struct{}, error)
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
	// MaxDeliver bounds deliveries of one message.
	MaxDeliver int
	// MaxAckPending bounds un-acknowledged messages across all processes;
	// it must cover BatchSize times the processes times two (one batch
	// inserting, one filling).
	MaxAckPending int
	// BackoffMin and BackoffMax bound the exponential back-off between insert
	// attempts.
	BackoffMin, BackoffMax time.Duration
	// CheckAll checks every batch against ClickHouse, not only those with
	// redelivered messages; it also catches an event_id published twice
	// outside the stream's duplicate window, at the cost of one query per
	// batch.
	CheckAll bool
	// ShutdownTimeout bounds the flush of the open batch on shutdown.
	ShutdownTimeout time.Duration

	// AfterInsert, when set, runs after a batch is inserted and before it is
	// acknowledged; an error stops Run without acknowledging, as a crash
	// would. Tests use it; it is never set in production.
	AfterInsert func(rows int) error
}

// DefaultConfig returns the defaults: batches of 50,000 events or 1 s.
func DefaultConfig() Config {
	return Config{
		Stream:          bus.StreamName,
		Durable:         "cspwatch-aggregator",
		BatchSize:       50_000,
		BatchWait:       time.Second,
		AckWait:         30 * time.Second,
		MaxDeliver:      20,
		MaxAckPending:   400_000,
		BackoffMin:      100 * time.Millisecond,
		BackoffMax:      30 * time.Second,
		ShutdownTimeout: 30 * time.Second,
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
	case c.MaxDeliver < 2:
		return fmt.Errorf("aggregator: max deliver %d, need at least 2 so a crash between insert and ack is survivable", c.MaxDeliver)
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

	// decoders and results are the filler's scratch: one decoder per
	// decoding worker, whose intern tables then last across batches, and
	// the per-message outcome of a chunk.
	decoders []event.Decoder
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
	return a, nil
}

// Ready reports whether the consumer is bound, NATS connected and the last
// insert attempt succeeded.
func (a *Aggregator) Ready() bool {
	return a.ready.Load() && a.insertOK.Load() && a.nc.IsConnected()
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

// batch is a closed batch of decoded events and the messages they came
// from. Of a message it keeps only the reply subject, which is all an
// acknowledgement needs: the message itself (payload, headers) can go as
// soon as it is decoded.
type batch struct {
	stopKeep    func()
	replies     []string
	rows        []store.Row
	redelivered bool
	opened      time.Time
	inserted    int // rows written, after dropping duplicates
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

	// Four stages: the fetcher pulls chunks, the filler decodes them into
	// batches, the inserter (this goroutine) writes them, the acker
	// acknowledges what was written. Each runs while the next works, so
	// throughput is the slowest stage's, not their sum. The channels are
	// unbuffered, so while ClickHouse is down at most two batches (one
	// retrying, one waiting) and one fetched chunk are held, all kept alive
	// with InProgress, and nothing more is fetched.
	ready := make(chan *batch)
	chunks := make(chan []jetstream.Msg)
	acks := make(chan *batch)
	acked := make(chan struct{})
	fctx, stopFill := context.WithCancel(ctx)
	defer stopFill()
	go a.fetch(fctx, cons, chunks)
	go func() {
		defer close(ready)
		a.fill(chunks, ready)
	}()
	go func() {
		defer close(acked)
		for b := range acks {
			a.ack(b)
		}
	}()
	var runErr error
	for b := range ready {
		if runErr != nil {
			b.stopKeep() // drain: leave them un-acknowledged for redelivery
			continue
		}
		if runErr = a.flush(ctx, b, acks); runErr != nil {
			stopFill()
		}
	}
	close(acks)
	<-acked
	if runErr == nil {
		// Acks are fire-and-forget; a flush makes sure the server has them
		// before a graceful exit.
		_ = a.nc.FlushTimeout(5 * time.Second)
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

// fill decodes fetched chunks into batches and hands each closed batch to
// out: when it holds BatchSize messages or BatchWait after its first. When
// chunks closes (ctx ended) it hands over the open batch and returns.
func (a *Aggregator) fill(chunks <-chan []jetstream.Msg, out chan<- *batch) {
	var cur *batch
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var deadline <-chan time.Time
	// send hands cur to the inserter. rest is the part of the current chunk
	// not yet in a batch: it is kept alive too while the inserter is busy.
	send := func(rest []jetstream.Msg) {
		deadline = nil
		if len(cur.replies) == 0 {
			cur = nil // everything in it was dead-lettered
			return
		}
		// Closed: kept alive from now until acknowledged, including while
		// it waits for the inserter.
		cur.stopKeep = a.keepAlive(cur)
		a.log.Debug().Int("messages", len(cur.replies)).Dur("filled_in", time.Since(cur.opened)).Msg("batch closed")
		t := time.NewTicker(a.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case out <- cur:
				cur = nil
				return
			case <-t.C:
				for _, m := range rest {
					_ = m.InProgress() // a lost one is covered by the redelivery check
				}
			}
		}
	}
	for {
		select {
		case raw, ok := <-chunks:
			if !ok {
				if cur != nil {
					send(nil)
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
				a.addAll(context.Background(), cur, raw[:take])
				raw = raw[take:]
				if len(cur.replies) >= a.cfg.BatchSize {
					timer.Stop()
					send(raw)
				}
			}
		case <-deadline:
			if cur != nil {
				send(nil)
			}
		}
	}
}

// newBatch opens a batch, reusing an acknowledged one when there is one.
func (a *Aggregator) newBatch() *batch {
	select {
	case b := <-a.spare:
		b.opened = time.Now()
		return b
	default:
		return &batch{opened: time.Now()}
	}
}

// recycle offers an acknowledged batch for reuse, dropping what it
// references so that nothing of it stays reachable.
func (a *Aggregator) recycle(b *batch) {
	clear(b.replies)
	clear(b.rows)
	*b = batch{replies: b.replies[:0], rows: b.rows[:0]}
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
// not decode. Events are decoded in place into the batch's rows, spread over
// GOMAXPROCS goroutines, each with its own event.Decoder.
func (a *Aggregator) addAll(ctx context.Context, b *batch, msgs []jetstream.Msg) {
	if len(msgs) == 0 {
		return
	}
	base := len(b.rows)
	if need := base + len(msgs); need > cap(b.rows) {
		// Double, but never past BatchSize: append's growth would leave a
		// full batch with up to twice the rows it can hold.
		grown := make([]store.Row, base, max(need, min(2*cap(b.rows), a.cfg.BatchSize)))
		copy(grown, b.rows)
		b.rows = grown
	}
	b.rows = b.rows[:base+len(msgs)]
	rows := b.rows[base:]
	if cap(a.results) < len(msgs) {
		a.results = make([]decodeResult, len(msgs))
	}
	res := a.results[:len(msgs)]
	workers := min(runtime.GOMAXPROCS(0), (len(msgs)+minPerWorker-1)/minPerWorker)
	if len(a.decoders) < workers {
		a.decoders = append(a.decoders, make([]event.Decoder, workers-len(a.decoders))...)
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
			b.redelivered = true
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
	clear(res)
}

// flush inserts b (retrying until it succeeds or ctx ends), then hands it
// to acks for acknowledgement. On shutdown, the last attempts run on a
// context bounded by ShutdownTimeout.
func (a *Aggregator) flush(ctx context.Context, b *batch, acks chan<- *batch) error {
	handed := false
	defer func() {
		if !handed {
			b.stopKeep()
		}
	}()

	rows := a.dedupe(b.rows)
	check := b.redelivered || a.cfg.CheckAll
	delay := a.cfg.BackoffMin
	// ictx follows ctx until it ends, then lives ShutdownTimeout longer:
	// the last batch gets a bounded chance to be stored and acknowledged.
	ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopAfter := context.AfterFunc(ctx, func() { time.AfterFunc(a.cfg.ShutdownTimeout, cancel) })
	defer stopAfter()
	for attempt := 1; ; attempt++ {
		err := a.insert(ictx, &rows, check)
		if err == nil {
			break
		}
		// An insert that failed may still have stored some months, or all
		// of the batch if only the answer was lost: check before retrying.
		check = true
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
		ev.Err(err).Str("class", class).Int("attempt", attempt).Int("rows", len(rows)).Dur("retry_in", delay).Msg("insert batch")
		if !sleep(ictx, delay) {
			a.log.Error().Int("rows", len(rows)).Msg("shutdown: batch not inserted; it will be redelivered")
			return nil
		}
		delay = min(2*delay, a.cfg.BackoffMax)
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

// insert writes rows, first dropping those ClickHouse already holds when
// check is set. It shrinks *rows to what remains to be inserted.
func (a *Aggregator) insert(ctx context.Context, rows *[]store.Row, check bool) error {
	if check && len(*rows) > 0 {
		have, err := a.store.ExistingIDs(ctx, *rows)
		if err != nil {
			return err
		}
		if len(have) > 0 {
			kept := (*rows)[:0]
			for _, r := range *rows {
				if _, dup := have[r.EventID]; !dup {
					kept = append(kept, r)
				}
			}
			a.m.duplicates.Add(float64(len(*rows) - len(kept)))
			*rows = kept
		}
	}
	if len(*rows) == 0 {
		return nil
	}
	start := time.Now()
	if err := a.store.InsertRows(ctx, *rows); err != nil {
		a.m.batches.WithLabelValues("failed").Inc()
		return err
	}
	a.m.insertSeconds.Observe(time.Since(start).Seconds())
	a.m.batches.WithLabelValues("inserted").Inc()
	a.m.rows.Add(float64(len(*rows)))
	return nil
}

// dedupe drops repeated event_ids within one batch (an event published twice
// outside the duplicate window), keeping the first. It compacts rows in
// place and returns the prefix that remains; rows keeps its length.
func (a *Aggregator) dedupe(rows []store.Row) []store.Row {
	if a.seen == nil {
		a.seen = make(map[string]struct{}, len(rows))
	}
	defer clear(a.seen)
	kept := 0
	for i := range rows {
		id := rows[i].EventID
		if _, dup := a.seen[id]; dup {
			continue
		}
		a.seen[id] = struct{}{}
		if kept != i {
			rows[kept] = rows[i]
		}
		kept++
	}
	return rows[:kept]
}

// keepAlive sends InProgress for every message of b every AckWait/3 until
// stopped, so that a slow insert or a ClickHouse outage neither redelivers
// the batch to another process nor spends its deliveries.
func (a *Aggregator) keepAlive(b *batch) (stop func()) {
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
				for _, reply := range b.replies {
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
