package aggregator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/cspwatch/cspwatch/internal/bus"
	"github.com/cspwatch/cspwatch/internal/eventjson"
	"github.com/cspwatch/cspwatch/internal/store"
)

// Headers of a dead-lettered message; its data is the original message's.
const (
	HeaderReason          = "Cspwatch-Dead-Letter-Reason"
	HeaderOriginalSubject = "Cspwatch-Original-Subject"
	HeaderStreamSeq       = "Cspwatch-Stream-Seq"
	HeaderDeliveries      = "Cspwatch-Deliveries"
)

// DeadLetterSubject is where the aggregator dead-letters messages of stream.
func DeadLetterSubject(stream string) string { return bus.DeadLetterSubjectPrefix + stream }

// deadLetterer is the dead-letter stage: it moves the messages that cannot
// be stored to the dead-letter stream, those that do not decode (from the
// decoder) and those the server gave up on after MaxDeliver deliveries (from
// its advisory). A dead letter is de-duplicated by its stream sequence
// (Nats-Msg-Id "dlq-<stream>-<seq>"), so a retry after a crash, or every
// replica handling one advisory, stores it once.
type deadLetterer struct {
	// stream and durable name the stream and the consumer whose messages
	// are dead-lettered.
	stream, durable string
	js              jetstream.JetStream
	nc              *nats.Conn // for the advisories
	store           Store      // to tell a stored event from a lost one
	log             zerolog.Logger
	m               *metrics
}

// message builds the dead letter of the message at stream sequence seq,
// which had subject and data; deliveries 0 leaves its header out.
func (d *deadLetterer) message(subject string, data []byte, reason string, seq, deliveries uint64) *nats.Msg {
	out := nats.NewMsg(DeadLetterSubject(d.stream))
	out.Data = data
	out.Header.Set(HeaderReason, reason)
	out.Header.Set(HeaderOriginalSubject, subject)
	out.Header.Set(HeaderStreamSeq, strconv.FormatUint(seq, 10))
	if deliveries > 0 {
		out.Header.Set(HeaderDeliveries, strconv.FormatUint(deliveries, 10))
	}
	out.Header.Set(bus.MsgIDHeader, fmt.Sprintf("dlq-%s-%d", d.stream, seq))
	return out
}

// deadLetter publishes msg, which did not decode, to the dead-letter stream
// and terminates it. If the publish fails the message is left
// un-acknowledged: it comes back and is dead-lettered on a later delivery,
// or by the max-deliveries advisory. It waits at most 5 s for JetStream.
func (d *deadLetterer) deadLetter(msg jetstream.Msg, seq uint64, cause error) {
	const reason = "decode"
	var deliveries uint64
	if md, err := msg.Metadata(); err == nil {
		deliveries = md.NumDelivered
	}
	out := d.message(msg.Subject(), msg.Data(), cause.Error(), seq, deliveries)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := d.js.PublishMsg(ctx, out); err != nil {
		d.log.Error().Err(err).Uint64("stream_seq", seq).Msg("dead-letter publish; message left for redelivery")
		return
	}
	if err := msg.TermWithReason(reason); err != nil {
		d.log.Warn().Err(err).Uint64("stream_seq", seq).Msg("term after dead-letter")
	}
	d.m.deadLetters.WithLabelValues(reason).Inc()
	d.log.Error().Err(cause).Uint64("stream_seq", seq).Str("subject", msg.Subject()).
		Str("dead_letter_subject", out.Subject).Msg("message dead-lettered")
}

// maxDeliveriesAdvisory is the part of the server's
// io.nats.jetstream.advisory.v1.max_deliver advisory we use.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// watchMaxDeliveries dead-letters every message the server gives up on
// after MaxDeliver deliveries, unless ClickHouse holds its event already (a
// crash-looping aggregator exhausts deliveries of events it did store).
// Every aggregator process receives the advisory; the dead-letter stream
// de-duplicates their copies by Nats-Msg-Id, and the counter counts only
// stored (non-duplicate) copies. With the default unbounded MaxDeliver the
// server sends no such advisory.
func (d *deadLetterer) watchMaxDeliveries() (stop func(), err error) {
	subj := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", d.stream, d.durable)
	sub, err := d.nc.Subscribe(subj, func(m *nats.Msg) {
		var adv maxDeliveriesAdvisory
		if err := json.Unmarshal(m.Data, &adv); err != nil {
			d.log.Error().Err(err).Msg("max deliveries advisory")
			return
		}
		d.deadLetterSeq(adv)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe max deliveries advisory: %w", err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// deadLetterSeq handles one max-deliveries advisory. It waits at most 5 s
// for NATS and ClickHouse together.
func (d *deadLetterer) deadLetterSeq(adv maxDeliveriesAdvisory) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := d.js.Stream(ctx, d.stream)
	if err != nil {
		d.log.Error().Err(err).Uint64("stream_seq", adv.StreamSeq).Msg("max deliveries: stream")
		return
	}
	raw, err := st.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return // removed meanwhile (dead-lettered and purged, or aged out)
		}
		d.log.Error().Err(err).Uint64("stream_seq", adv.StreamSeq).Msg("max deliveries: get message")
		return
	}
	if ev, err := eventjson.Decode(raw.Data); err == nil {
		have, err := d.store.ExistingIDs(ctx, []store.Row{{Event: ev, Seq: adv.StreamSeq}}, 0)
		if err != nil {
			// Unknown: dead-letter it. A replay of a stored event is
			// harmless, as storage is idempotent by event_id.
			d.log.Warn().Err(err).Uint64("stream_seq", adv.StreamSeq).Msg("max deliveries: existence check")
		} else if _, stored := have[ev.EventID]; stored {
			d.m.giveUpStored.Inc()
			d.log.Warn().Uint64("stream_seq", adv.StreamSeq).Uint64("deliveries", adv.Deliveries).Str("event_id", ev.EventID).
				Msg("max deliveries reached by an event ClickHouse holds: not dead-lettered")
			return
		}
	}
	out := d.message(raw.Subject, raw.Data, "max deliveries", adv.StreamSeq, adv.Deliveries)
	ack, err := d.js.PublishMsg(ctx, out)
	if err != nil {
		d.log.Error().Err(err).Uint64("stream_seq", adv.StreamSeq).Msg("max deliveries: dead-letter publish")
		return
	}
	if !ack.Duplicate {
		d.m.deadLetters.WithLabelValues("max_deliveries").Inc()
	}
	d.log.Error().Uint64("stream_seq", adv.StreamSeq).Uint64("deliveries", adv.Deliveries).
		Str("subject", raw.Subject).Msg("message dead-lettered after max deliveries")
}
