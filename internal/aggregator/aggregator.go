// Package aggregator moves install events from the JetStream stream
// CSPWATCH_INSTALL into ClickHouse: a durable pull consumer shared by any
// number of aggregator processes, batches closed on size or time, one native
// INSERT per batch, and acknowledgements only after ClickHouse accepted the
// batch. A batch's INSERT is written block by block: each fetched chunk is
// sent as one block as soon as it is decoded, so ClickHouse receives a batch
// while the rest of it is still being fetched, and the INSERT is committed
// when the batch closes.
//
// Run wires five stages, one file each: fetch (fetch.go), decode
// (decode.go), insert (insert.go), acknowledge (ack.go) and dead-letter
// (deadletter.go), with one keep-alive for every message held
// (keepalive.go).
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
//     block of a batch's INSERT or its commit fails, the whole batch is
//     written again from the rows held.
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
//   - A batch is committed while the next one is written (on another
//     connection), and batches are committed and acknowledged in order. With
//     CheckAll, a chunk's existence check waits until the batch before it is
//     committed, so it sees every row this process stored.
//   - Every message held is kept alive with InProgress, from its fetch until
//     it is acknowledged (so neither AckWait nor MaxDeliver runs out under a
//     slow insert). While ClickHouse is down the aggregator holds at most two
//     batches (one retrying, the next waiting for it), one decoded chunk of a
//     third and one fetched chunk, stops fetching, and retries with jittered
//     exponential back-off until the insert succeeds or the context ends. In
//     normal operation a batch being acknowledged may be held too.
//   - A batch's INSERT stays open on one ClickHouse connection from its first
//     block until it closes (at most BatchWait while events flow); a server
//     that drops it as idle fails the batch, which is then retried as above.
package aggregator

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/store"
)

// Store is what the aggregator needs of ClickHouse (*store.Store).
type Store interface {
	BeginInsert(ctx context.Context) (store.Insert, error)
	ExistingIDs(ctx context.Context, rows []store.Row, lookback time.Duration) (map[string]struct{}, error)
	Ping(ctx context.Context) error
}

// Aggregator runs the fetch, decode, insert, acknowledge stages.
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
	a := &Aggregator{cfg: cfg, nc: nc, js: js, store: st, log: log, m: newMetrics(reg)}
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

// Run consumes until ctx ends, then flushes and acknowledges the open batch
// (bounded by ShutdownTimeout) and returns nil. It returns an error only when
// it cannot bind the consumer before ctx ends, or from AfterInsert.
func (a *Aggregator) Run(ctx context.Context) error {
	keep := newKeeper(a.nc, a.cfg.AckWait/3, a.log, a.m)
	fetch := &fetcher{cfg: a.cfg, js: a.js, log: a.log, keep: keep}
	dl := &deadLetterer{stream: a.cfg.Stream, durable: a.cfg.Durable, nc: a.nc, js: a.js, store: a.store, log: a.log, m: a.m}
	pool := newBatchPool(a.cfg.BatchSize)
	decode := &decoder{cfg: a.cfg, log: a.log, m: a.m, keep: keep, dl: dl, pool: pool}
	insert := &inserter{cfg: a.cfg, store: a.store, log: a.log, m: a.m, insertOK: &a.insertOK}
	ack := &acker{nc: a.nc, log: a.log, m: a.m, pool: pool}

	cons, err := fetch.bind(ctx)
	if err != nil {
		return err
	}
	stopAdv, err := dl.watchMaxDeliveries()
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
	// The keeper outlives ctx: the last batches are kept alive while they
	// are flushed.
	keepDone := make(chan struct{})
	defer close(keepDone)
	go keep.run(keepDone)

	// Each stage runs while the next works, so throughput is the slowest
	// stage's, not their sum, and ClickHouse receives a batch while it is
	// still being fetched. The channels are unbuffered, so while ClickHouse
	// is down at most one batch (retrying), one decoded segment of the next
	// and one fetched chunk are held, all kept alive, and nothing more is
	// fetched. Each stage ends when its input closes, the fetcher when
	// fctx ends: the open batch is flushed on the way out.
	chunks := make(chan fetched)
	segs := make(chan segment)
	acks := make(chan *batch)
	acked := make(chan struct{})
	fctx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()
	go fetch.run(fctx, cons, chunks)
	go func() {
		defer close(segs)
		decode.run(chunks, segs)
	}()
	go func() {
		defer close(acked)
		ack.run(acks)
	}()
	runErr := insert.run(ctx, segs, acks, stopFetch)
	close(acks)
	<-acked
	if runErr == nil {
		// Acks are fire-and-forget; a flush makes sure the server has them
		// before a graceful exit. Acks it could not confirm cost no data:
		// their messages come back and are stored again, idempotently.
		if err := a.nc.FlushTimeout(5 * time.Second); err != nil {
			a.log.Warn().Err(err).Msg("acknowledgements not confirmed at exit; their messages will be redelivered and deduplicated")
		}
	}
	return runErr
}
