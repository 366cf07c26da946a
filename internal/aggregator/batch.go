package aggregator

import (
	"sync/atomic"
	"time"

	"github.com/cspwatch/cspwatch/internal/store"
)

// batch is a batch of decoded events and the messages they came from, the
// unit that the stages hand on: the decoder fills it, the inserter stores it,
// the acker acknowledges it. Of a message it keeps only the reply subject,
// which is all an acknowledgement needs: the message itself (payload,
// headers) can go as soon as it is decoded. rows has capacity BatchSize from
// the start and is never reallocated, because the inserter compacts the rows
// it was handed while the decoder appends behind them.
type batch struct {
	// keep keeps the batch's messages alive from its opening until it is
	// acknowledged or given up.
	keep *hold
	// replies has capacity BatchSize from the start too: the keeper reads
	// replies[:live] while the decoder appends.
	replies  []string
	live     atomic.Int64
	rows     []store.Row
	opened   time.Time
	inserted int // rows written, after dropping duplicates
}

// liveReplies is what the keeper reads of a batch: the replies added so
// far. It reads only below live, which the decoder raises after writing
// them, through a full-capacity slice taken when the batch opened (the
// batch's own slice header changes with every append; its array never
// does), so it is safe beside the decoder's appends.
type liveReplies struct {
	all  []string
	live *atomic.Int64
}

func (r liveReplies) eachReply(f func(string)) {
	for _, reply := range r.all[:r.live.Load()] {
		f(reply)
	}
}

// segment is what the decoder decoded into a batch from one fetched chunk:
// rows[lo:] are new. It is handed to the inserter at once, so that
// ClickHouse receives a block while the next chunk is fetched and decoded.
// The last segment of a batch closes it and may bring no rows.
type segment struct {
	b    *batch
	rows []store.Row // the batch's rows up to the end of this segment
	lo   int
	last bool
}

// batchPool returns acknowledged batches to the decoder, so that a batch
// reuses the rows of an earlier one instead of allocating and growing
// BatchSize rows (about 0.5 KB each) afresh. It keeps at most two.
type batchPool struct {
	size  int
	spare chan *batch
}

func newBatchPool(size int) *batchPool {
	return &batchPool{size: size, spare: make(chan *batch, 2)}
}

// get returns an empty batch with capacity for size messages.
func (p *batchPool) get() *batch {
	select {
	case b := <-p.spare:
		return b
	default:
		return &batch{replies: make([]string, 0, p.size), rows: make([]store.Row, 0, p.size)}
	}
}

// put offers a batch whose messages are no longer kept alive for reuse,
// dropping what it references so that nothing of it stays reachable.
func (p *batchPool) put(b *batch) {
	clear(b.replies)
	clear(b.rows)
	b.keep = nil
	b.replies, b.rows = b.replies[:0], b.rows[:0]
	b.live.Store(0)
	b.inserted = 0
	select {
	case p.spare <- b:
	default:
	}
}
