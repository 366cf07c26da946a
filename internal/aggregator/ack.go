package aggregator

import (
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// The JetStream acknowledgement bodies, published to a message's reply
// subject as jetstream.Msg's Ack and InProgress do (fire and forget).
var (
	ackAck      = []byte("+ACK")
	ackProgress = []byte("+WPI")
)

// acker is the acknowledge stage: it acknowledges the messages of stored
// batches while the inserter stores the next ones. Messages are acknowledged
// one by one, never with AckAll: processes sharing one consumer receive
// interleaved sequences, and an AckAll by one would acknowledge another's
// messages before they were inserted.
type acker struct {
	nc   *nats.Conn
	log  zerolog.Logger
	m    *metrics
	pool *batchPool
}

// run acknowledges every batch from in, in order, until in is closed.
func (k *acker) run(in <-chan *batch) {
	for b := range in {
		k.ack(b)
	}
}

// ack acknowledges the messages of a stored batch, stops keeping them
// alive and offers the batch for reuse. An acknowledgement that is lost
// costs no data: its message is redelivered and stored again, idempotently.
func (k *acker) ack(b *batch) {
	start := time.Now()
	for _, reply := range b.replies {
		if err := k.nc.Publish(reply, ackAck); err != nil {
			k.log.Warn().Err(err).Msg("ack")
		}
	}
	b.keep.release()
	k.m.acked.Add(float64(len(b.replies)))
	k.log.Debug().Int("messages", len(b.replies)).Int("rows", b.inserted).Dur("held", time.Since(b.opened)).
		Dur("ack", time.Since(start)).Msg("batch stored and acknowledged")
	k.pool.put(b)
}
