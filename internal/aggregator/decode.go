package aggregator

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/store"
)

// decoder is the decode stage: it decodes fetched chunks into batches and
// hands each decoded part of a batch to the inserter as a segment, at once,
// so that ClickHouse receives a batch while the rest of it is still being
// fetched. A batch closes when it holds BatchSize messages or BatchWait
// after its first; its last segment says so. Messages that do not decode
// are dead-lettered on their first delivery (decoding is deterministic).
type decoder struct {
	cfg  Config
	log  zerolog.Logger
	m    *metrics
	keep *keeper
	dl   *deadLetterer
	pool *batchPool

	// decoders holds one eventjson.Decoder per decoding goroutine, whose
	// intern tables then last across batches; results is the per-message
	// outcome of the chunk being decoded.
	decoders []eventjson.Decoder
	results  []decodeResult
}

// run decodes the chunks from in until in is closed (the fetcher's context
// ended), then closes the open batch and returns. Each chunk stays with the
// keeper until all of it is in batches (or dead-lettered), and a segment is
// handed over as soon as the inserter takes it: while the inserter is busy,
// nothing more is decoded.
func (d *decoder) run(in <-chan fetched, out chan<- segment) {
	var cur *batch
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var deadline <-chan time.Time
	// closeBatch hands the last segment of cur, with rows[lo:] new.
	closeBatch := func(lo int) {
		timer.Stop()
		deadline = nil
		b := cur
		cur = nil
		if len(b.replies) == 0 {
			b.keep.release()
			d.pool.put(b) // everything in it was dead-lettered: nothing was handed over
			return
		}
		d.log.Debug().Int("messages", len(b.replies)).Dur("filled_in", time.Since(b.opened)).Msg("batch closed")
		out <- segment{b: b, rows: b.rows, lo: lo, last: true}
	}
	for {
		select {
		case f, ok := <-in:
			if !ok {
				if cur != nil {
					closeBatch(len(cur.rows))
				}
				return
			}
			for raw := f.msgs; len(raw) > 0; {
				if cur == nil {
					cur = d.newBatch()
					timer.Reset(d.cfg.BatchWait)
					deadline = timer.C
				}
				take := min(len(raw), d.cfg.BatchSize-len(cur.replies))
				lo := len(cur.rows)
				d.addAll(cur, raw[:take])
				raw = raw[take:]
				switch {
				case len(cur.replies) >= d.cfg.BatchSize:
					closeBatch(lo)
				case len(cur.rows) > lo:
					out <- segment{b: cur, rows: cur.rows, lo: lo}
				}
			}
			f.keep.release()
		case <-deadline:
			if cur != nil {
				closeBatch(len(cur.rows))
			}
		}
	}
}

// newBatch opens a batch, reusing an acknowledged one when there is one,
// and starts keeping its messages alive.
func (d *decoder) newBatch() *batch {
	b := d.pool.get()
	b.opened = time.Now()
	b.keep = d.keep.hold(liveReplies{all: b.replies[:cap(b.replies)], live: &b.live})
	return b
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
// not decode and counting redeliveries. Events are decoded in place into
// the batch's rows, spread over GOMAXPROCS goroutines, each with its own
// eventjson.Decoder. The rows before len(b.rows) belong to the inserter and
// are not touched.
func (d *decoder) addAll(b *batch, msgs []jetstream.Msg) {
	if len(msgs) == 0 {
		return
	}
	base := len(b.rows)
	if base+len(msgs) > cap(b.rows) || len(b.replies)+len(msgs) > cap(b.replies) {
		panic("aggregator: batch over BatchSize") // run never takes more
	}
	b.rows = b.rows[:base+len(msgs)]
	rows := b.rows[base:]
	if cap(d.results) < len(msgs) {
		d.results = make([]decodeResult, len(msgs))
	}
	res := d.results[:len(msgs)]
	workers := min(runtime.GOMAXPROCS(0), (len(msgs)+minPerWorker-1)/minPerWorker)
	if len(d.decoders) < workers {
		d.decoders = append(d.decoders, make([]eventjson.Decoder, workers-len(d.decoders))...)
	}
	var wg sync.WaitGroup
	per := (len(msgs) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*per, min((w+1)*per, len(msgs))
		dec := &d.decoders[w]
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
			d.dl.deadLetter(msgs[i], rows[i].Seq, err)
			continue
		}
		if res[i].delivered > 1 {
			d.m.redeliveries.Inc()
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
