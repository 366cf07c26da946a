package aggregator

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/store"
)

// inserter is the insert stage. The goroutine running run writes each
// segment of the open batch as blocks of the batch's INSERT as soon as it
// arrives; a second goroutine, the committer, commits closed batches in
// order while the next one is written (on another connection), retries a
// failed batch whole from the rows held, and hands stored batches to the
// acker. Every INSERT, first attempt or retry, goes through writeBlocks and
// commit.
type inserter struct {
	cfg      Config
	store    Store
	log      zerolog.Logger
	m        *metrics
	insertOK *atomic.Bool

	// seen holds the event_ids of the batch being written, for dropping
	// repeats.
	seen map[string]struct{}
}

// batchInsert is the inserter's state of one batch: its INSERT, open on one
// ClickHouse connection from its first block until it is committed (at most
// BatchWait while events flow; a server that drops it as idle fails the
// batch, which is then retried).
type batchInsert struct {
	b    *batch
	rows []store.Row // the batch's rows handed over so far; rows[:kept] remain after dropping duplicates
	kept int
	// ctx follows Run's context until it ends, then lives ShutdownTimeout
	// longer: the last batch gets a bounded chance to be stored and
	// acknowledged.
	ctx     context.Context
	cancel  func()
	stop    func() bool
	ins     store.Insert // nil until the first block, and after a commit or an abort
	written int          // rows written to ins
	took    time.Duration
	err     error // the first error: nothing more is written, and finish retries the whole batch
	// prev is the batch handed to the committer before this one, until its
	// commit is known to be over; done is closed when this one's is.
	prev *batchInsert
	done chan struct{}
}

// run writes the segments from segs until segs is closed, and returns when
// the last batch was committed and handed to acks (or given up). After an
// error (only AfterInsert returns one) it commits nothing more, calls
// stopFetch, and leaves the batches it holds un-acknowledged for
// redelivery; the error is returned.
func (in *inserter) run(ctx context.Context, segs <-chan segment, acks chan<- *batch, stopFetch func()) error {
	commits := make(chan *batchInsert)
	committed := make(chan struct{})
	var runErr error // the committer's, read after committed is closed
	var failed atomic.Bool
	go func() {
		defer close(committed)
		for bi := range commits {
			if runErr == nil {
				if runErr = in.finish(bi, acks); runErr != nil {
					failed.Store(true)
					stopFetch()
				}
			} else {
				bi.discard() // leave them un-acknowledged for redelivery
				bi.b.keep.release()
			}
			close(bi.done)
			// Nothing reads bi but the next batch's existence check, which
			// needs only bi.done: drop what bi holds, so that each batch
			// does not keep its predecessor (and its driver buffers) alive,
			// and so on back to the first batch.
			bi.release()
		}
	}()
	var cur, prev *batchInsert
	for seg := range segs {
		if failed.Load() {
			if cur != nil {
				cur.discard()
				cur = nil
			}
			if seg.last {
				seg.b.keep.release() // drain: leave them un-acknowledged for redelivery
			}
			continue
		}
		if cur == nil {
			cur = in.open(ctx, seg.b, prev)
		}
		in.write(cur, seg)
		if seg.last {
			commits <- cur // waits while the committer is busy with prev
			prev, cur = cur, nil
		}
	}
	if cur != nil { // the decoder always closes its batch; this is a guard only
		cur.discard()
	}
	close(commits)
	<-committed
	return runErr
}

// open starts the INSERT state of b; prev is the batch before it, which may
// still be committing.
func (in *inserter) open(ctx context.Context, b *batch, prev *batchInsert) *batchInsert {
	ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(in.cfg.ShutdownTimeout, cancel) })
	if in.seen == nil {
		in.seen = make(map[string]struct{}, min(in.cfg.BatchSize, 1<<16))
	}
	clear(in.seen)
	return &batchInsert{b: b, ctx: ictx, cancel: cancel, stop: stop, prev: prev, done: make(chan struct{})}
}

// release drops the references of a committed (or abandoned) batch.
func (bi *batchInsert) release() {
	bi.prev, bi.ins, bi.rows, bi.b = nil, nil, nil, nil
}

// waitPrev waits until the batch before bi is committed (or given up), so
// that an existence check sees every row this process stored before.
func (bi *batchInsert) waitPrev() {
	if bi.prev != nil {
		<-bi.prev.done
		bi.prev = nil
	}
}

// discard drops bi without committing: its messages are left to be
// redelivered. A closed batch's keep-alive is the caller's to release.
func (bi *batchInsert) discard() {
	bi.abort()
	bi.stop()
	bi.cancel()
}

// abort aborts bi's open INSERT, if any.
func (bi *batchInsert) abort() {
	if bi.ins != nil {
		bi.ins.Abort()
		bi.ins = nil
	}
}

// write drops the repeated event_ids of seg's new rows (an event published
// twice outside the duplicate window: the first stays), then, with
// CheckAll, the rows ClickHouse already holds, and writes the rest to the
// batch's INSERT. Both checks run before any row of the segment is written.
// After an error it only compacts: finish retries the batch.
func (in *inserter) write(bi *batchInsert, seg segment) {
	rows := seg.rows
	from := bi.kept
	for i := seg.lo; i < len(rows); i++ {
		id := rows[i].EventID
		if _, dup := in.seen[id]; dup {
			continue
		}
		in.seen[id] = struct{}{}
		if bi.kept != i {
			rows[bi.kept] = rows[i]
		}
		bi.kept++
	}
	bi.rows = rows
	if bi.err != nil || bi.kept == from {
		return
	}
	fresh := rows[from:bi.kept]
	if in.cfg.CheckAll {
		bi.waitPrev()
		var err error
		if fresh, err = in.dropExisting(bi.ctx, fresh); err != nil {
			bi.err = err
			return
		}
		bi.kept = from + len(fresh)
		if len(fresh) == 0 {
			return
		}
	}
	bi.err = in.writeBlocks(bi, fresh)
}

// writeBlocks writes rows to bi's INSERT in blocks of at most
// store.InsertBlockRows, beginning the INSERT with the first. On an error
// the INSERT is aborted and the batch must be written again whole.
func (in *inserter) writeBlocks(bi *batchInsert, rows []store.Row) error {
	start := time.Now()
	defer func() { bi.took += time.Since(start) }()
	if bi.ins == nil {
		ins, err := in.store.BeginInsert(bi.ctx)
		if err != nil {
			return fmt.Errorf("begin insert: %w", err)
		}
		bi.ins = ins
	}
	for i := 0; i < len(rows); i += store.InsertBlockRows {
		if err := bi.ins.Write(rows[i:min(i+store.InsertBlockRows, len(rows))]); err != nil {
			bi.abort()
			return fmt.Errorf("insert block: %w", err)
		}
	}
	bi.written += len(rows)
	return nil
}

// commit runs BeforeCommit, commits bi's INSERT and counts it. On an error
// the caller aborts the INSERT.
func (in *inserter) commit(bi *batchInsert) error {
	if in.cfg.BeforeCommit != nil {
		in.cfg.BeforeCommit(bi.written)
	}
	start := time.Now()
	if err := bi.ins.Commit(); err != nil {
		return fmt.Errorf("commit insert: %w", err)
	}
	bi.ins = nil
	commit := time.Since(start)
	in.m.insertSeconds.Observe((bi.took + commit).Seconds())
	in.m.batches.WithLabelValues("inserted").Inc()
	in.m.rows.Add(float64(bi.written))
	in.log.Debug().Int("rows", bi.written).Dur("writing", bi.took).Dur("commit", commit).Msg("batch committed")
	return nil
}

// failed counts a failed insert attempt and aborts its INSERT.
func (in *inserter) failed(bi *batchInsert) {
	bi.abort()
	in.m.batches.WithLabelValues("failed").Inc()
}

// finish commits the closed batch of bi (retrying the whole batch until it
// is stored or bi's context ends), then hands it to acks for
// acknowledgement. The committer runs it, one batch after the other.
func (in *inserter) finish(bi *batchInsert, acks chan<- *batch) error {
	b := bi.b
	defer bi.cancel()
	defer bi.stop()
	handed := false
	defer func() {
		if !handed {
			b.keep.release()
		}
	}()
	rows := bi.rows[:bi.kept]
	err := bi.err
	if err == nil && bi.ins != nil {
		err = in.commit(bi)
	}
	if err != nil {
		in.failed(bi)
		if rows, err = in.retry(bi, rows, err); err != nil {
			return nil // shutdown; retry logged it
		}
	}
	in.insertOK.Store(true)
	if in.cfg.AfterInsert != nil {
		if err := in.cfg.AfterInsert(len(rows)); err != nil {
			return err
		}
	}
	b.inserted = len(rows)
	acks <- b
	handed = true
	return nil
}

// retry stores rows after the attempt that failed with err, with back-off,
// until an attempt succeeds or bi's context ends (then it returns the
// context's error). Errors are retried whatever their class, since giving
// up would lose the batch; the class is counted and logged for the
// operator. Each attempt is a new INSERT of the whole batch from the rows
// held (insertAll). It returns the rows the last attempt inserted.
func (in *inserter) retry(bi *batchInsert, rows []store.Row, err error) ([]store.Row, error) {
	first := err
	attempt := 0
	_, err = backoff.Retry(bi.ctx, func() (struct{}, error) {
		if first != nil { // the attempt that already failed counts as the first
			err := first
			first = nil
			return struct{}{}, err
		}
		return struct{}{}, in.insertAll(bi, &rows)
	}, retryForever(in.cfg, func(err error, next time.Duration) {
		attempt++
		in.insertOK.Store(false)
		class := "retryable"
		if !store.Retryable(err) {
			class = "permanent"
		}
		in.m.insertErrors.WithLabelValues(class).Inc()
		ev := in.log.Warn()
		if class == "permanent" {
			ev = in.log.Error()
		}
		ev.Err(err).Str("class", class).Int("attempt", attempt).Int("rows", len(rows)).Dur("retry_in", next).Msg("insert batch")
	})...)
	if err != nil {
		in.log.Error().Int("rows", len(rows)).Msg("shutdown: batch not inserted; it will be redelivered")
	}
	return rows, err
}

// insertAll writes *rows as a new INSERT of bi, with CheckAll first
// dropping those ClickHouse already holds, and shrinks *rows to what
// remains. An attempt that failed may have stored some rows, or all of
// them if only the answer was lost; without CheckAll they are written
// again, which storage idempotent by event_id absorbs.
func (in *inserter) insertAll(bi *batchInsert, rows *[]store.Row) error {
	bi.written, bi.took = 0, 0
	kept := *rows
	if in.cfg.CheckAll {
		var err error
		if kept, err = in.dropExisting(bi.ctx, kept); err != nil {
			return err
		}
	}
	*rows = kept
	if len(kept) == 0 {
		return nil
	}
	err := in.writeBlocks(bi, kept)
	if err == nil {
		err = in.commit(bi)
	}
	if err != nil {
		in.failed(bi)
	}
	return err
}

// dropExisting drops the rows whose event_id ClickHouse already holds,
// compacting rows in place, and returns what remains. It costs one query,
// which reads the event ids of the CheckAllLookback before the rows'
// events.
func (in *inserter) dropExisting(ctx context.Context, rows []store.Row) ([]store.Row, error) {
	if len(rows) == 0 {
		return rows, nil
	}
	have, err := in.store.ExistingIDs(ctx, rows, in.cfg.CheckAllLookback)
	if err != nil {
		return nil, fmt.Errorf("existing ids: %w", err)
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
	in.m.duplicates.Add(float64(len(rows) - len(kept)))
	return kept, nil
}
