package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// publisher publishes to JetStream asynchronously and tracks the
// acknowledgements of each request's events as one batch. It does what
// jetstream.PublishMsgAsync does for this one use, at a fraction of its
// cost per event: no future, channels or timer per message and no JSON
// decoding of the PubAck, which matter when a message carries dozens of
// events.
//
// Every published event holds one of maxPending slots until its
// acknowledgement arrives, its batch is abandoned, or the connection drops;
// a publisher that finds no free slot waits, at most until its deadline.
type publisher struct {
	nc     *nats.Conn
	prefix string // reply subject prefix, ending in '.'
	sub    *nats.Subscription
	slots  chan struct{}

	mu      sync.Mutex
	next    uint64
	pending map[uint64]*batch
}

// batch is one request's events in flight. Its fields are guarded by the
// publisher's mutex.
type batch struct {
	ids    []uint64 // still awaiting acknowledgement
	left   int
	dups   int
	err    error
	sealed bool // every event of the request was published
	closed bool
	done   chan struct{}
}

var (
	errNoResponders = errors.New("no stream answered (no responders)")
	errAbandoned    = errors.New("abandoned")
)

func newPublisher(nc *nats.Conn, maxPending int) (*publisher, error) {
	p := &publisher{
		nc:      nc,
		prefix:  nc.NewRespInbox() + ".",
		slots:   make(chan struct{}, maxPending),
		pending: map[uint64]*batch{},
	}
	sub, err := nc.Subscribe(p.prefix+"*", p.onAck)
	if err != nil {
		return nil, fmt.Errorf("ack subscription: %w", err)
	}
	// Acks are small and handled at once; the limits only guard memory.
	if err := sub.SetPendingLimits(4*maxPending+1024, 64<<20); err != nil {
		return nil, fmt.Errorf("ack subscription: %w", err)
	}
	p.sub = sub
	status := nc.StatusChanged(nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED)
	go func() {
		for s := range status {
			// Acks of what was in flight will not come over a new
			// connection: fail those batches now so their requests get 503
			// at once rather than at their deadline.
			p.failAll(nats.ErrDisconnected)
			if s == nats.CLOSED {
				return
			}
		}
	}()
	return p, nil
}

// pendingCount is the number of events awaiting acknowledgement.
func (p *publisher) pendingCount() int { return len(p.slots) }

// start readies b for a new request.
func (b *batch) start() {
	b.ids = b.ids[:0]
	b.left, b.dups, b.err = 0, 0, nil
	b.sealed, b.closed = false, false
	b.done = make(chan struct{})
}

// publish sends m as one event of b, with a reply subject that routes its
// acknowledgement back to b. m's data is copied into the connection's
// buffer before publish returns.
func (p *publisher) publish(b *batch, m *nats.Msg, deadline time.Time, reply []byte) ([]byte, error) {
	select {
	case p.slots <- struct{}{}:
	default:
		wait := time.Until(deadline)
		if wait <= 0 {
			return reply, context.DeadlineExceeded
		}
		t := time.NewTimer(wait)
		select {
		case p.slots <- struct{}{}:
			t.Stop()
		case <-t.C:
			return reply, errBackpressure
		}
	}
	p.mu.Lock()
	if b.closed { // failed while we waited for a slot
		p.mu.Unlock()
		<-p.slots
		return reply, b.err
	}
	p.next++
	id := p.next
	p.pending[id] = b
	b.ids = append(b.ids, id)
	b.left++
	p.mu.Unlock()

	reply = strconv.AppendUint(append(reply[:0], p.prefix...), id, 36)
	m.Reply = string(reply)
	if err := p.nc.PublishMsg(m); err != nil {
		p.mu.Lock()
		p.finishLocked(b, err)
		p.mu.Unlock()
		return reply, err
	}
	return reply, nil
}

var errBackpressure = errors.New("too many events awaiting acknowledgement")

// seal marks b complete: done closes once every acknowledgement arrived
// (or at the first failure).
func (p *publisher) seal(b *batch) {
	p.mu.Lock()
	b.sealed = true
	if b.left == 0 && !b.closed {
		b.closed = true
		close(b.done)
	}
	p.mu.Unlock()
}

// abandon forgets b's events still in flight, freeing their slots. Their
// acknowledgements, if they come, are dropped.
func (p *publisher) abandon(b *batch) {
	p.mu.Lock()
	p.finishLocked(b, errAbandoned)
	p.mu.Unlock()
}

// result returns b's duplicate count and error once done is closed.
func (p *publisher) result(b *batch) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return b.dups, b.err
}

// finishLocked fails b with err (the first error stays), removes its
// pending events and closes done.
func (p *publisher) finishLocked(b *batch, err error) {
	for _, id := range b.ids {
		if _, ok := p.pending[id]; ok {
			delete(p.pending, id)
			<-p.slots
		}
	}
	b.ids = b.ids[:0]
	b.left = 0
	if b.err == nil {
		b.err = err
	}
	if !b.closed {
		b.closed = true
		close(b.done)
	}
}

func (p *publisher) failAll(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.pending {
		p.finishLocked(b, err)
	}
}

// onAck handles one acknowledgement: {"stream":"S","seq":N[,"duplicate": true]},
// an {"error":{...}} answer, or a no-responders status without data.
func (p *publisher) onAck(m *nats.Msg) {
	id, err := strconv.ParseUint(m.Subject[len(p.prefix):], 36, 64)
	if err != nil {
		return
	}
	var ackErr error
	dup := false
	switch {
	case len(m.Data) == 0:
		ackErr = errNoResponders
	case bytes.Contains(m.Data, []byte(`"error"`)):
		ackErr = fmt.Errorf("jetstream: %s", m.Data)
	case !bytes.Contains(m.Data, []byte(`"seq"`)):
		ackErr = fmt.Errorf("jetstream: unexpected ack %q", m.Data)
	default:
		dup = jsonTrue(m.Data, `"duplicate"`)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.pending[id]
	if !ok {
		return // abandoned, or failed at a disconnect
	}
	delete(p.pending, id)
	<-p.slots
	if ackErr != nil {
		p.finishLocked(b, ackErr)
		return
	}
	if dup {
		b.dups++
	}
	b.left--
	if b.left == 0 && b.sealed && !b.closed {
		b.closed = true
		b.ids = b.ids[:0]
		close(b.done)
	}
}

// jsonTrue reports whether key is followed by the literal true in the flat
// JSON object data (the server writes `"duplicate": true`, with a space).
func jsonTrue(data []byte, key string) bool {
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return false
	}
	rest := bytes.TrimLeft(data[i+len(key):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return false
	}
	return bytes.HasPrefix(bytes.TrimLeft(rest[1:], " \t\r\n"), []byte("true"))
}
