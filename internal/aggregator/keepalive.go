package aggregator

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// keeper is the aggregator's one keep-alive. Every AckWait/3 it sends
// InProgress for every message held and not yet acknowledged: a fetched
// chunk from its fetch until the decoder has moved it into batches, and a
// batch from its opening until its acknowledgement. So neither a slow insert
// nor a ClickHouse outage lets AckWait run out (which would redeliver the
// messages to another process) or spends the messages' deliveries. A lost
// InProgress costs no data: the message is redelivered and stored again,
// idempotently.
type keeper struct {
	nc    *nats.Conn
	log   zerolog.Logger
	m     *metrics
	every time.Duration

	mu   sync.Mutex
	held map[*hold]struct{}
	// round is the run goroutine's snapshot of held, reused across rounds.
	round []*hold
}

func newKeeper(nc *nats.Conn, every time.Duration, log zerolog.Logger, m *metrics) *keeper {
	return &keeper{nc: nc, log: log, m: m, every: every, held: make(map[*hold]struct{})}
}

// replies is what the keeper keeps alive: anything that can list the reply
// subjects of the messages it holds.
type replies interface {
	eachReply(func(reply string))
}

// hold is one registration with the keeper.
type hold struct {
	k  *keeper
	mu sync.Mutex // held while a round sends for r, so release waits for it
	r  replies    // nil once released
}

// hold starts keeping r's messages alive until release. r is read from the
// keeper's goroutine meanwhile, so what it lists must be safe to read
// concurrently with its owner's writes (see batch.eachReply).
func (k *keeper) hold(r replies) *hold {
	h := &hold{k: k, r: r}
	k.mu.Lock()
	k.held[h] = struct{}{}
	k.mu.Unlock()
	return h
}

// release stops keeping the messages alive. When it returns the keeper no
// longer reads them, so their owner may reuse the memory. Releasing twice is
// harmless.
func (h *hold) release() {
	h.k.mu.Lock()
	delete(h.k.held, h)
	h.k.mu.Unlock()
	h.mu.Lock()
	h.r = nil
	h.mu.Unlock()
}

// run sends a round of InProgress every AckWait/3 until done is closed.
func (k *keeper) run(done <-chan struct{}) {
	t := time.NewTicker(k.every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			k.sendRound()
		}
	}
}

// sendRound sends InProgress once for every message held now.
func (k *keeper) sendRound() {
	k.mu.Lock()
	k.round = k.round[:0]
	for h := range k.held {
		k.round = append(k.round, h)
	}
	k.mu.Unlock()
	for _, h := range k.round {
		h.mu.Lock()
		if h.r != nil {
			h.r.eachReply(k.progress)
			k.m.inProgress.Inc()
		}
		h.mu.Unlock()
	}
	clear(k.round)
}

// progress sends one InProgress, as jetstream.Msg.InProgress does (fire and
// forget).
func (k *keeper) progress(reply string) {
	if err := k.nc.Publish(reply, ackProgress); err != nil {
		k.log.Debug().Err(err).Msg("in progress")
	}
}

// chunk is one fetched pull of messages, in stream order.
type chunk []jetstream.Msg

func (c chunk) eachReply(f func(string)) {
	for _, m := range c {
		f(m.Reply())
	}
}
